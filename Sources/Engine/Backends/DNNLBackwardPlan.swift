import CDNNL

/// A oneDNN backward (de)convolution primitive for one shape, over PyTorch's plain layouts.
///
/// Unlike the forward `ConvPlan`, arguments are handled generically by their execution id: each
/// one is a plain tensor the caller owns, reordered into (inputs) or out of (outputs) the blocked
/// layout oneDNN chose when the two differ. Weights are reordered on every call rather than
/// cached: during training they change after every step anyway.
final class DNNLBackwardPlan {
    struct Argument {
        let id: Int32
        let dims: [Int]
        let tag: dnnl_format_tag_t
        let isOutput: Bool
    }

    private struct Bound {
        let argument: Argument
        let plain: dnnl_memory_t
        let blocked: (memory: dnnl_memory_t, reorder: dnnl_primitive_t, bytes: Int)?
    }

    let implementation: String
    private let pd: dnnl_primitive_desc_t
    private let primitive: dnnl_primitive_t
    private var bound: [Bound] = []
    private let scratchpad: (memory: dnnl_memory_t, bytes: Int)?

    /// `kind` is one of the GANTRY_*_BACKWARD_* kinds; `desc` describes the forward operation.
    init(kind: gantry_conv_kind, desc: gantry_conv_desc, arguments: [Argument], engine: dnnl_engine_t) throws {
        var desc = desc
        var pd: dnnl_primitive_desc_t?
        try DNNLRuntime.check(gantry_conv_bwd_pd_create(&pd, engine, kind, &desc), "create a backward convolution (kind \(kind.rawValue))")
        self.pd = pd!
        implementation = String(cString: gantry_pd_impl_name(pd))
        var prim: dnnl_primitive_t?
        try DNNLRuntime.check(dnnl_primitive_create(&prim, pd), "create a backward convolution primitive")
        primitive = prim!
        for a in arguments {
            let dims = a.dims.map(Int64.init)
            var plain: dnnl_memory_t?
            try DNNLRuntime.check(gantry_memory_create_plain(&plain, engine, Int32(dims.count), dims, a.tag, nil),
                                  "create a memory for \(a.dims)")
            var blocked: (dnnl_memory_t, dnnl_primitive_t, Int)?
            if gantry_pd_arg_is_plain(pd, a.id, Int32(dims.count), dims, a.tag) == 0 {
                var mem: dnnl_memory_t?
                try DNNLRuntime.check(gantry_memory_create_for_arg(&mem, pd, a.id, engine, nil), "create a blocked memory")
                var reorder: dnnl_primitive_t?
                try DNNLRuntime.check(a.isOutput ? gantry_reorder_create(&reorder, mem, plain, engine)
                                                 : gantry_reorder_create(&reorder, plain, mem, engine), "create a reorder")
                blocked = (mem!, reorder!, gantry_pd_arg_size(pd, a.id))
            }
            bound.append(Bound(argument: a, plain: plain!, blocked: blocked))
        }
        let scratchBytes = gantry_pd_arg_size(pd, Int32(GANTRY_ARG_SCRATCHPAD))
        if scratchBytes > 0 {
            var mem: dnnl_memory_t?
            try DNNLRuntime.check(gantry_memory_create_for_arg(&mem, pd, Int32(GANTRY_ARG_SCRATCHPAD), engine, nil), "create a scratchpad")
            scratchpad = (mem!, scratchBytes)
        } else {
            scratchpad = nil
        }
    }

    deinit {
        for b in bound {
            dnnl_memory_destroy(b.plain)
            if let i = b.blocked { dnnl_memory_destroy(i.memory); dnnl_primitive_destroy(i.reorder) }
        }
        if let s = scratchpad { dnnl_memory_destroy(s.memory) }
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(pd)
    }

    /// Runs the primitive with `buffers[id]` as the plain data of each argument.
    func execute(_ buffers: [Int32: UnsafeMutableRawPointer], stream: dnnl_stream_t) throws {
        var keep: [AlignedBuffer] = []
        defer { withExtendedLifetime(keep) {} }
        var args: [(Int, dnnl_memory_t)] = []
        for b in bound {
            guard let pointer = buffers[b.argument.id] else {
                throw EngineError(.library, "backward convolution argument \(b.argument.id) was not given")
            }
            dnnl_memory_set_data_handle(b.plain, pointer)
            guard let i = b.blocked else { args.append((Int(b.argument.id), b.plain)); continue }
            let buffer = try AlignedBuffer(byteCount: i.bytes)
            keep.append(buffer)
            dnnl_memory_set_data_handle(i.memory, buffer.pointer)
            if !b.argument.isOutput {
                try ConvPlan.run(i.reorder, stream, [(GANTRY_ARG_FROM, b.plain), (GANTRY_ARG_TO, i.memory)])
            }
            args.append((Int(b.argument.id), i.memory))
        }
        if let s = scratchpad {
            let buffer = try AlignedBuffer(byteCount: s.bytes)
            keep.append(buffer)
            dnnl_memory_set_data_handle(s.memory, buffer.pointer)
            args.append((GANTRY_ARG_SCRATCHPAD, s.memory))
        }
        try ConvPlan.run(primitive, stream, args)
        for b in bound where b.argument.isOutput {
            if let i = b.blocked { try ConvPlan.run(i.reorder, stream, [(GANTRY_ARG_FROM, i.memory), (GANTRY_ARG_TO, b.plain)]) }
        }
    }
}

/// Identifies one backward primitive; plans are cached per key.
struct BackwardPlanKey: Hashable {
    var kind: UInt32
    var input: [Int]
    var weight: [Int]
    var output: [Int]
    var hasBias: Bool
    var geometry: ConvGeometry
}

extension DNNLBackend {
    /// The oneDNN descriptor of the forward (de)convolution from `input` (N,C,H,W) to `output`
    /// with PyTorch-layout `weight`, and the logical (O, I, kH, kW) weight dims with their plain tag.
    static func describe(transposed: Bool, input: [Int], weight: [Int], output: [Int], hasBias: Bool,
                         geometry g: ConvGeometry) -> (gantry_conv_desc, [Int], dnnl_format_tag_t) {
        // oneDNN's deconvolution weights are logically (O, I, kH, kW); PyTorch stores (I, O, kH, kW).
        let logical = transposed ? [weight[1], weight[0], weight[2], weight[3]] : weight
        var desc = gantry_conv_desc()
        _ = withUnsafeMutableBytes(of: &desc.src) { $0.bindMemory(to: Int64.self).update(fromContentsOf: input.map(Int64.init)) }
        _ = withUnsafeMutableBytes(of: &desc.weights) { $0.bindMemory(to: Int64.self).update(fromContentsOf: logical.map(Int64.init)) }
        _ = withUnsafeMutableBytes(of: &desc.dst) { $0.bindMemory(to: Int64.self).update(fromContentsOf: output.map(Int64.init)) }
        desc.strides = (Int64(g.strideH), Int64(g.strideW))
        desc.pad_l = (Int64(g.padTop), Int64(g.padLeft))
        desc.pad_r = transposed ? (Int64(g.padBottom - g.outputPaddingH), Int64(g.padRight - g.outputPaddingW))
                                : (Int64(g.padBottom), Int64(g.padRight))
        desc.has_bias = hasBias ? 1 : 0
        desc.training = 1
        return (desc, logical, transposed ? dnnl_iohw : dnnl_oihw)
    }
}
