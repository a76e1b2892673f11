import CDNNL

/// Identifies one (de)convolution shape; plans are cached per key.
struct ConvPlanKey: Hashable {
    var transposed: Bool
    var input: [Int]
    var weight: [Int]
    var hasBias: Bool
    var geometry: ConvGeometry
    var winograd: Bool
}

/// A oneDNN (de)convolution primitive for one shape, with the reorders between PyTorch's plain
/// layouts and the blocked layouts oneDNN prefers, and the buffers those need.
final class ConvPlan {
    let key: ConvPlanKey
    let outputShape: [Int]
    let implementation: String
    let pd: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t

    // The plain-layout views (data handles set per call) and, when oneDNN wants another layout,
    // internal memories with their reorders.
    let srcPlain: dnnl_memory_t
    // Internal memories have no buffer between calls: at 1024×768 a plan's blocked copies and
    // Winograd scratchpad run to hundreds of MB, and plans live as long as the cache.
    let srcInternal: (memory: dnnl_memory_t, reorder: dnnl_primitive_t, bytes: Int)?
    let dstPlain: dnnl_memory_t
    let dstInternal: (memory: dnnl_memory_t, reorder: dnnl_primitive_t, bytes: Int)?
    let weightsPlain: dnnl_memory_t
    let biasPlain: dnnl_memory_t?
    let scratchpad: (memory: dnnl_memory_t, bytes: Int)?

    init(key: ConvPlanKey, outputShape: [Int], engine: dnnl_engine_t) throws {
        self.key = key
        self.outputShape = outputShape
        var (desc, logicalWeights, weightTag) = DNNLBackend.describe(
            transposed: key.transposed, input: key.input, weight: key.weight, output: outputShape,
            hasBias: key.hasBias, geometry: key.geometry)
        desc.winograd = key.winograd ? 1 : 0
        desc.training = 0

        var pd: dnnl_primitive_desc_t?
        try DNNLRuntime.check(
            gantry_conv_pd_create(&pd, engine, key.transposed ? GANTRY_DECONV_FORWARD : GANTRY_CONV_FORWARD, &desc),
            "create a \(key.transposed ? "deconvolution" : "convolution") for input \(key.input), weight \(key.weight)")
        self.pd = pd!
        implementation = String(cString: gantry_pd_impl_name(pd))
        var prim: dnnl_primitive_t?
        try DNNLRuntime.check(dnnl_primitive_create(&prim, pd), "create a convolution primitive")
        primitive = prim!

        srcPlain = try Self.plainMemory(engine, key.input, dnnl_nchw)
        dstPlain = try Self.plainMemory(engine, outputShape, dnnl_nchw)
        weightsPlain = try Self.plainMemory(engine, logicalWeights, weightTag)
        biasPlain = key.hasBias ? try Self.plainMemory(engine, [outputShape[1]], dnnl_x) : nil

        srcInternal = try Self.internalMemory(pd!, GANTRY_MD_SRC, key.input, engine, from: srcPlain)
        dstInternal = try Self.internalMemory(pd!, GANTRY_MD_DST, outputShape, engine, to: dstPlain)
        let scratchBytes = gantry_pd_md_size(pd, GANTRY_MD_SCRATCHPAD)
        if scratchBytes > 0 {
            var mem: dnnl_memory_t?
            try DNNLRuntime.check(gantry_memory_create_from_pd(&mem, pd, GANTRY_MD_SCRATCHPAD, engine, nil), "create a scratchpad")
            scratchpad = (mem!, scratchBytes)
        } else {
            scratchpad = nil
        }
    }

    deinit {
        for mem in [srcPlain, dstPlain, weightsPlain, biasPlain, srcInternal?.memory, dstInternal?.memory, scratchpad?.memory] {
            if let mem { dnnl_memory_destroy(mem) }
        }
        for prim in [srcInternal?.reorder, dstInternal?.reorder, primitive] {
            if let prim { dnnl_primitive_destroy(prim) }
        }
        dnnl_primitive_desc_destroy(pd)
    }

    /// Reorders `weight` (PyTorch layout) into the layout this primitive wants.
    func makeWeights(_ weight: Tensor, engine: dnnl_engine_t, stream: dnnl_stream_t) throws -> PreparedWeights {
        let bytes = gantry_pd_md_size(pd, GANTRY_MD_WEIGHTS)
        let buffer = try AlignedBuffer(byteCount: bytes)
        var mem: dnnl_memory_t?
        try DNNLRuntime.check(gantry_memory_create_from_pd(&mem, pd, GANTRY_MD_WEIGHTS, engine, buffer.pointer), "create a weights memory")
        var reorder: dnnl_primitive_t?
        try DNNLRuntime.check(gantry_reorder_create(&reorder, weightsPlain, mem, engine), "create a weights reorder")
        defer { dnnl_primitive_destroy(reorder) }
        dnnl_memory_set_data_handle(weightsPlain, UnsafeMutableRawPointer(mutating: weight.pointer))
        try Self.run(reorder!, stream, [(GANTRY_ARG_FROM, weightsPlain), (GANTRY_ARG_TO, mem!)])
        return PreparedWeights(memory: mem!, buffer: buffer, version: weight.storage.version, storage: weight.storage)
    }

    func execute(_ x: Tensor, weights: PreparedWeights, bias: Tensor?, into y: Tensor, stream: dnnl_stream_t) throws {
        dnnl_memory_set_data_handle(srcPlain, UnsafeMutableRawPointer(mutating: x.pointer))
        dnnl_memory_set_data_handle(dstPlain, y.mutablePointer)
        // Buffers for this call only, from BufferPool, which keeps freed blocks for reuse,
        // so this costs no page faults after the first image.
        let srcBuffer = try srcInternal.map { try AlignedBuffer(byteCount: $0.bytes) }
        let dstBuffer = try dstInternal.map { try AlignedBuffer(byteCount: $0.bytes) }
        let scratchBuffer = try scratchpad.map { try AlignedBuffer(byteCount: $0.bytes) }
        defer { withExtendedLifetime((srcBuffer, dstBuffer, scratchBuffer)) {} }
        if let s = srcInternal { dnnl_memory_set_data_handle(s.memory, srcBuffer!.pointer) }
        if let d = dstInternal { dnnl_memory_set_data_handle(d.memory, dstBuffer!.pointer) }
        if let p = scratchpad { dnnl_memory_set_data_handle(p.memory, scratchBuffer!.pointer) }
        var src = srcPlain
        if let s = srcInternal {
            try Self.run(s.reorder, stream, [(GANTRY_ARG_FROM, srcPlain), (GANTRY_ARG_TO, s.memory)])
            src = s.memory
        }
        let dst = dstInternal?.memory ?? dstPlain
        var args: [(Int, dnnl_memory_t)] = [(GANTRY_ARG_SRC, src), (GANTRY_ARG_WEIGHTS, weights.memory), (GANTRY_ARG_DST, dst)]
        if let bias, let biasPlain {
            dnnl_memory_set_data_handle(biasPlain, UnsafeMutableRawPointer(mutating: bias.pointer))
            args.append((GANTRY_ARG_BIAS, biasPlain))
        }
        if let scratchpad { args.append((GANTRY_ARG_SCRATCHPAD, scratchpad.memory)) }
        try Self.run(primitive, stream, args)
        if let d = dstInternal {
            try Self.run(d.reorder, stream, [(GANTRY_ARG_FROM, d.memory), (GANTRY_ARG_TO, dstPlain)])
        }
    }

    static func run(_ primitive: dnnl_primitive_t, _ stream: dnnl_stream_t, _ args: [(Int, dnnl_memory_t)]) throws {
        var execArgs = args.map { dnnl_exec_arg_t(arg: Int32($0.0), memory: $0.1) }
        try DNNLRuntime.check(dnnl_primitive_execute(primitive, stream, Int32(execArgs.count), &execArgs), "execute a primitive")
        try DNNLRuntime.check(dnnl_stream_wait(stream), "wait for the stream")
    }

    private static func plainMemory(_ engine: dnnl_engine_t, _ dims: [Int], _ tag: dnnl_format_tag_t) throws -> dnnl_memory_t {
        var mem: dnnl_memory_t?
        let d = dims.map(Int64.init)
        try DNNLRuntime.check(gantry_memory_create_plain(&mem, engine, Int32(d.count), d, tag, nil), "create a memory for \(dims)")
        return mem!
    }

    private static func internalMemory(
        _ pd: dnnl_primitive_desc_t, _ which: gantry_md_which, _ dims: [Int], _ engine: dnnl_engine_t,
        from source: dnnl_memory_t? = nil, to target: dnnl_memory_t? = nil
    ) throws -> (memory: dnnl_memory_t, reorder: dnnl_primitive_t, bytes: Int)? {
        let d = dims.map(Int64.init)
        if gantry_pd_md_is_plain(pd, which, Int32(d.count), d, dnnl_nchw) != 0 { return nil }
        var mem: dnnl_memory_t?
        try DNNLRuntime.check(gantry_memory_create_from_pd(&mem, pd, which, engine, nil), "create an internal memory")
        var reorder: dnnl_primitive_t?
        if let source {
            try DNNLRuntime.check(gantry_reorder_create(&reorder, source, mem, engine), "create an input reorder")
        } else if let target {
            try DNNLRuntime.check(gantry_reorder_create(&reorder, mem, target, engine), "create an output reorder")
        }
        return (mem!, reorder!, gantry_pd_md_size(pd, which))
    }
}

/// Weights reordered for one primitive layout, tied to the tensor storage and version they came from.
final class PreparedWeights {
    let memory: dnnl_memory_t
    let buffer: AlignedBuffer
    let version: Int
    weak var storage: TensorStorage?

    init(memory: dnnl_memory_t, buffer: AlignedBuffer, version: Int, storage: TensorStorage) {
        self.memory = memory
        self.buffer = buffer
        self.version = version
        self.storage = storage
    }

    deinit { dnnl_memory_destroy(memory) }
}
