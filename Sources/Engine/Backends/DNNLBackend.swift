import CDNNL
import Foundation

/// Convolutions on oneDNN, the CPU library PyTorch itself uses.
///
/// Primitives are created once per shape and cached; weights are reordered into each
/// primitive's preferred layout once per weight tensor (and again only if it changes).
/// Calls are serialised: one convolution already uses every core.
public final class DNNLBackend: ConvolutionBackend, @unchecked Sendable {
    /// Which algorithm 3×3 stride-1 convolutions use.
    public enum Algorithm: String, Sendable, CaseIterable {
        /// Winograd F(4×4, 3×3) where oneDNN implements it (about 3× faster than direct on wide
        /// layers), direct elsewhere. Results differ from direct by ~1e-4 relative.
        case winograd
        /// Direct convolution everywhere: closest to PyTorch's numbers.
        case direct
    }

    /// Whose Winograd runs 3×3 stride-1 convolutions when `algorithm` is `.winograd`.
    public enum WinogradImplementation: String, Sendable, CaseIterable {
        /// oneDNN's where it has one (AVX-512), Gantry's elsewhere.
        case automatic
        /// oneDNN's only: direct convolution where oneDNN has no Winograd kernel.
        case onednn
        /// Gantry's F(4×4, 3×3) (`WinogradConvolution`) on every CPU.
        case gantry
    }

    /// How strided transposed convolutions run.
    public enum TransposedImplementation: String, Sendable, CaseIterable {
        /// Gantry's phase split where it is faster (`PhasedTransposedConvolution.paysOff`),
        /// oneDNN's deconvolution elsewhere.
        case automatic
        /// oneDNN's deconvolution only.
        case onednn
        /// The phase split wherever it is well formed, faster or not (for tests and comparisons).
        case phased
        /// The phases fused into one 3×3 convolution run by Gantry's Winograd (`PhaseWinograd`)
        /// wherever that is well formed, faster or not (for tests and comparisons).
        case winograd
    }

    /// How strided convolutions whose taps fit a 3×3 window of the space-to-depth grid run.
    public enum StridedImplementation: String, Sendable, CaseIterable {
        /// Gantry's Winograd over the space-to-depth grid where it pays, oneDNN elsewhere.
        case automatic
        /// oneDNN's convolution only.
        case onednn
        /// `SpaceToDepthWinograd` wherever it is well formed, faster or not (tests, comparisons).
        case winograd
    }

    public let algorithm: Algorithm
    public let winogradImplementation: WinogradImplementation
    public let transposedImplementation: TransposedImplementation
    public let stridedImplementation: StridedImplementation
    /// Threads oneDNN uses (nil: OpenMP's default, one per core).
    public let threads: Int?
    public var name: String {
        algorithm == .winograd && usesGantryWinograd ? "onednn-winograd-gantry" : "onednn-\(algorithm.rawValue)"
    }
    /// Output bytes per band for convolutions big enough to run in bands (see DNNLBanding.swift),
    /// and the scratch budget of Gantry's own Winograd and narrow-layer paths.
    public let bandBytes: Int

    private let engine: dnnl_engine_t
    private let stream: dnnl_stream_t
    private let lock = NSLock()
    private var plans: [ConvPlanKey: ConvPlan] = [:]
    private var weights: [ObjectIdentifier: [PreparedWeights]] = [:]
    private var backwardPlans: [BackwardPlanKey: DNNLBackwardPlan] = [:]
    private let winogradWeights = WinogradWeightCache()
    private let phaseWeights = PhaseWeightCache()
    private let phaseWinogradWeights = WinogradWeightCache()
    private let spaceToDepthWeights = WinogradWeightCache()
    /// Plans beyond this are dropped wholesale: photos of many sizes must not grow memory forever.
    private let maxPlans = 96

    public init(algorithm: Algorithm = .winograd, threads: Int? = nil, bandBytes: Int = 32 << 20,
                winogradImplementation: WinogradImplementation = .automatic,
                transposedImplementation: TransposedImplementation = .automatic,
                stridedImplementation: StridedImplementation = .automatic) throws {
        guard let runtime = DNNLRuntime.shared else {
            throw EngineError(.library, "oneDNN could not create a CPU engine")
        }
        engine = runtime.engine
        stream = runtime.stream
        self.algorithm = algorithm
        self.winogradImplementation = winogradImplementation
        self.transposedImplementation = transposedImplementation
        self.stridedImplementation = stridedImplementation
        self.threads = threads
        self.bandBytes = bandBytes
        _ = DNNLRuntime.defaultThreads
    }

    /// OpenMP's count is per calling thread and outlives the call: every operation sets this
    /// backend's own, so a backend without `threads` is not left with another backend's count
    /// (two backends used from one thread, as tests and a process converting while training do).
    private func setThreads() { gantry_set_num_threads(Int32(threads ?? DNNLRuntime.defaultThreads)) }

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry) throws -> Tensor {
        let outShape = try conv2dOutputShape(x, weight: weight, bias: bias, geometry: geometry)
        if NarrowConvolution.applies(input: x.shape, weight: weight.shape, geometry: geometry) {
            let conv = NarrowConvolution(input: x.shape, weight: weight.shape, geometry: geometry, bandBytes: bandBytes)
            let y = try Tensor(uninitialized: outShape)
            try exclusive { try conv.run(x: x.pointer, weight: weight.pointer, bias: bias?.pointer, y: y.mutablePointer) }
            return y
        }
        if wantsGantryWinograd(weight: weight.shape, geometry: geometry) {
            return try gantryWinograd(x, weight: weight, bias: bias, geometry: geometry, outShape: outShape, adjoint: false)
        }
        if stridedImplementation != .onednn, let s2d = SpaceToDepthWinograd(input: x.shape, weight: weight.shape, geometry: geometry),
           stridedImplementation == .winograd || (wantsSpaceToDepthWinograd(s2d) && !exclusive({ spaceToDepthWeights.changes(weight) })) {
            return try spaceToDepthWinograd(x, weight: weight, bias: bias, s2d, outShape: outShape)
        }
        let winograd = wantsWinograd(weight: weight.shape, geometry: geometry)
        if let y = try bandedConv2d(x, weight: weight, bias: bias, geometry: geometry, outShape: outShape, winograd: winograd) {
            return y
        }
        return try run(transposed: false, x, weight, bias, geometry, outShape, winograd: winograd)
    }

    public func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry) throws -> Tensor {
        let outShape = try convTranspose2dOutputShape(x, weight: weight, bias: bias, geometry: geometry)
        if NarrowTransposedConvolution.applies(input: x.shape, weight: weight.shape) {
            let conv = NarrowTransposedConvolution(input: x.shape, weight: weight.shape, geometry: geometry, bandBytes: bandBytes)
            let y = try Tensor(uninitialized: outShape)
            try exclusive { try conv.run(x: x.pointer, weight: weight.pointer, bias: bias?.pointer, y: y.mutablePointer) }
            return y
        }
        if let fused = PhaseWinograd(input: x.shape, weight: weight.shape, geometry: geometry),
           transposedImplementation == .winograd || (transposedImplementation == .automatic && wantsPhaseWinograd(fused)
                                                      && !exclusive({ phaseWinogradWeights.changes(weight) })) {
            return try phaseWinograd(x, weight: weight, bias: bias, fused, outShape: outShape)
        }
        if transposedImplementation != .onednn,
           let phased = PhasedTransposedConvolution(input: x.shape, weight: weight.shape, geometry: geometry),
           phased.paysOff || transposedImplementation == .phased {
            return try phasedConvTranspose2d(x, weight: weight, bias: bias, phased, outShape: outShape)
        }
        if let y = try bandedConvTranspose2d(x, weight: weight, bias: bias, geometry: geometry, outShape: outShape) {
            return y
        }
        return try run(transposed: true, x, weight, bias, geometry, outShape, winograd: false)
    }

    public func convolutionBackwardData(_ gradOutput: Tensor, weight: Tensor, inputShape: [Int], geometry: ConvGeometry,
                                        transposed: Bool) throws -> Tensor {
        if !transposed && wantsGantryWinograd(weight: weight.shape, geometry: geometry) {
            try Self.checkBackwardShapes(input: inputShape, weight: weight.shape, gradOutput: gradOutput.shape, geometry: geometry)
            // The input gradient of a 3×3 stride-1 convolution is a 3×3 stride-1 convolution of
            // the output gradient with the kernels rotated and transposed, padded by 2 − p.
            let g = geometry
            let adjoint = ConvGeometry(strideH: 1, strideW: 1, padTop: 2 - g.padTop, padLeft: 2 - g.padLeft,
                                       padBottom: 2 - g.padBottom, padRight: 2 - g.padRight)
            return try gantryWinograd(gradOutput, weight: weight, bias: nil, geometry: adjoint, outShape: inputShape,
                                      adjoint: true)
        }
        let gradInput = try Tensor(uninitialized: inputShape)
        let kind = transposed ? GANTRY_DECONV_BACKWARD_DATA : GANTRY_CONV_BACKWARD_DATA
        try runBackward(kind, transposed: transposed, input: inputShape, weight: weight.shape, output: gradOutput.shape,
                        hasBias: false, geometry: geometry) { logicalWeights, tag in
            [.init(id: Int32(GANTRY_ARG_DIFF_DST), dims: gradOutput.shape, tag: dnnl_nchw, isOutput: false),
             .init(id: Int32(GANTRY_ARG_WEIGHTS), dims: logicalWeights, tag: tag, isOutput: false),
             .init(id: Int32(GANTRY_ARG_DIFF_SRC), dims: inputShape, tag: dnnl_nchw, isOutput: true)]
        } buffers: {
            [Int32(GANTRY_ARG_DIFF_DST): UnsafeMutableRawPointer(mutating: gradOutput.pointer),
             Int32(GANTRY_ARG_WEIGHTS): UnsafeMutableRawPointer(mutating: weight.pointer),
             Int32(GANTRY_ARG_DIFF_SRC): UnsafeMutableRawPointer(gradInput.mutablePointer)]
        }
        return gradInput
    }

    public func convolutionBackwardWeights(_ x: Tensor, gradOutput: Tensor, weightShape: [Int], bias: Bool,
                                           geometry: ConvGeometry, transposed: Bool) throws -> (weight: Tensor, bias: Tensor?) {
        let gradWeight = try Tensor(uninitialized: weightShape)
        let gradBias = bias ? try Tensor(uninitialized: [gradOutput.shape[1]]) : nil
        if !transposed && wantsGantryWinograd(weight: weightShape, geometry: geometry) {
            try Self.checkBackwardShapes(input: x.shape, weight: weightShape, gradOutput: gradOutput.shape, geometry: geometry)
            let conv = WinogradConvolution(input: x.shape, outputChannels: weightShape[0], geometry: geometry, blockBytes: bandBytes)
            try exclusive {
                try conv.weightGradient(x: x.pointer, gradOutput: gradOutput.pointer, into: gradWeight.mutablePointer,
                                        gradBias: gradBias?.mutablePointer)
            }
            return (gradWeight, gradBias)
        }
        let kind = transposed ? GANTRY_DECONV_BACKWARD_WEIGHTS : GANTRY_CONV_BACKWARD_WEIGHTS
        try runBackward(kind, transposed: transposed, input: x.shape, weight: weightShape, output: gradOutput.shape,
                        hasBias: bias, geometry: geometry) { logicalWeights, tag in
            var args: [DNNLBackwardPlan.Argument] = [
                .init(id: Int32(GANTRY_ARG_SRC), dims: x.shape, tag: dnnl_nchw, isOutput: false),
                .init(id: Int32(GANTRY_ARG_DIFF_DST), dims: gradOutput.shape, tag: dnnl_nchw, isOutput: false),
                .init(id: Int32(GANTRY_ARG_DIFF_WEIGHTS), dims: logicalWeights, tag: tag, isOutput: true),
            ]
            if bias { args.append(.init(id: Int32(GANTRY_ARG_DIFF_BIAS), dims: [gradOutput.shape[1]], tag: dnnl_x, isOutput: true)) }
            return args
        } buffers: {
            var b: [Int32: UnsafeMutableRawPointer] = [
                Int32(GANTRY_ARG_SRC): UnsafeMutableRawPointer(mutating: x.pointer),
                Int32(GANTRY_ARG_DIFF_DST): UnsafeMutableRawPointer(mutating: gradOutput.pointer),
                Int32(GANTRY_ARG_DIFF_WEIGHTS): UnsafeMutableRawPointer(gradWeight.mutablePointer),
            ]
            if let gradBias { b[Int32(GANTRY_ARG_DIFF_BIAS)] = UnsafeMutableRawPointer(gradBias.mutablePointer) }
            return b
        }
        return (gradWeight, gradBias)
    }

    private func runBackward(_ kind: gantry_conv_kind, transposed: Bool, input: [Int], weight: [Int], output: [Int],
                             hasBias: Bool, geometry: ConvGeometry,
                             arguments: ([Int], dnnl_format_tag_t) -> [DNNLBackwardPlan.Argument],
                             buffers: () -> [Int32: UnsafeMutableRawPointer]) throws {
        let key = BackwardPlanKey(kind: kind.rawValue, input: input, weight: weight, output: output, hasBias: hasBias, geometry: geometry)
        lock.lock(); defer { lock.unlock() }
        setThreads()
        let plan: DNNLBackwardPlan
        if let cached = backwardPlans[key] {
            plan = cached
        } else {
            if backwardPlans.count >= maxPlans { backwardPlans.removeAll() }
            var (desc, logical, tag) = Self.describe(transposed: transposed, input: input, weight: weight, output: output,
                                                     hasBias: hasBias, geometry: geometry)
            if !transposed && wantsWinograd(weight: weight, geometry: geometry) {
                desc.winograd = 1
                if let wino = try? DNNLBackwardPlan(kind: kind, desc: desc, arguments: arguments(logical, tag), engine: engine) {
                    backwardPlans[key] = wino
                    try wino.execute(buffers(), stream: stream)
                    return
                }
                // No Winograd backward for this shape or ISA (oneDNN has it from AVX-512 on).
                desc.winograd = 0
            }
            plan = try DNNLBackwardPlan(kind: kind, desc: desc, arguments: arguments(logical, tag), engine: engine)
            backwardPlans[key] = plan
        }
        try plan.execute(buffers(), stream: stream)
    }

    /// The instruction set oneDNN runs with on this CPU under the cap (`GANTRY_MAX_CPU_ISA`),
    /// e.g. `avx2` or `avx512_core_bf16`; benchmarks report it.
    public static var effectiveISA: String { DNNLRuntime.effectiveISA }

    /// Whether oneDNN has a Winograd convolution here: only from AVX-512 on (oneDNN 2.6).
    public static var hasNativeWinograd: Bool { effectiveISA.hasPrefix("avx512") }

    /// The oneDNN implementation chosen for a convolution of this shape (for benchmarks and tests).
    public func implementation(forConv2dInput input: [Int], weight: [Int], geometry: ConvGeometry) throws -> String {
        let x = try Tensor(zeros: input), w = try Tensor(zeros: weight)
        let outShape = try conv2dOutputShape(x, weight: w, bias: nil, geometry: geometry)
        if wantsGantryWinograd(weight: weight, geometry: geometry) { return Self.gantryWinogradName }
        if NarrowConvolution.applies(input: input, weight: weight, geometry: geometry) { return "gantry_narrow:sgemm" }
        if let s2d = SpaceToDepthWinograd(input: input, weight: weight, geometry: geometry),
           stridedImplementation == .winograd || (stridedImplementation == .automatic && wantsSpaceToDepthWinograd(s2d)) {
            return "gantry_wino_s2d:sgemm"
        }
        let key = ConvPlanKey(transposed: false, input: input, weight: weight, hasBias: false, geometry: geometry,
                              winograd: wantsWinograd(weight: weight, geometry: geometry))
        lock.lock(); defer { lock.unlock() }
        return try plan(key, outShape).implementation
    }

    /// The oneDNN implementations of the backward-data and backward-weights passes of a
    /// convolution of this shape (for tests and benchmarks).
    public func backwardImplementations(forConv2dInput input: [Int], weight: [Int],
                                        geometry: ConvGeometry) throws -> (data: String, weights: String) {
        let x = try Tensor(zeros: input), w = try Tensor(zeros: weight)
        let gy = try Tensor(zeros: conv2dOutputShape(x, weight: w, bias: nil, geometry: geometry))
        let gantry = wantsGantryWinograd(weight: weight, geometry: geometry)
        _ = try convolutionBackwardData(gy, weight: w, inputShape: input, geometry: geometry, transposed: false)
        _ = try convolutionBackwardWeights(x, gradOutput: gy, weightShape: weight, bias: false, geometry: geometry, transposed: false)
        lock.lock(); defer { lock.unlock() }
        func name(_ kind: gantry_conv_kind) -> String {
            backwardPlans[BackwardPlanKey(kind: kind.rawValue, input: input, weight: weight, output: gy.shape, hasBias: false,
                                          geometry: geometry)]?.implementation ?? "?"
        }
        return gantry ? (Self.gantryWinogradName, Self.gantryWinogradName)
                      : (name(GANTRY_CONV_BACKWARD_DATA), name(GANTRY_CONV_BACKWARD_WEIGHTS))
    }

    /// Runs `body` holding the backend's lock with oneDNN's thread count set: one convolution
    /// at a time, since each already uses every core.
    private func exclusive<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        setThreads()
        return try body()
    }

    /// Gantry's own backward paths write by these shapes, so they must agree (oneDNN's would
    /// refuse a mismatch when creating its primitive).
    private static func checkBackwardShapes(input: [Int], weight: [Int], gradOutput: [Int], geometry g: ConvGeometry) throws {
        guard input.count == 4, weight.count == 4, gradOutput.count == 4, input[1] == weight[1] else {
            throw EngineError(.shapeMismatch, "convolution backward: input \(input) does not match weight \(weight)")
        }
        let out = g.convOutput(h: input[2], w: input[3], kh: weight[2], kw: weight[3])
        guard gradOutput == [input[0], weight[0], out.h, out.w] else {
            throw EngineError(.shapeMismatch, "convolution backward: output gradient \(gradOutput) does not match input \(input) and weight \(weight)")
        }
    }

    /// How `implementation(forConv2dInput:…)` names Gantry's Winograd F(4×4, 3×3).
    public static let gantryWinogradName = "gantry_wino_4x3:sgemm"

    /// Whether Gantry's own Winograd serves 3×3 stride-1 layers here (see `WinogradImplementation`).
    var usesGantryWinograd: Bool {
        switch winogradImplementation {
        case .automatic: !Self.hasNativeWinograd
        case .onednn: false
        case .gantry: true
        }
    }

    /// Layers with few channels are memory-bound and gain nothing from fewer multiplications.
    private func wantsGantryWinograd(weight: [Int], geometry: ConvGeometry) -> Bool {
        algorithm == .winograd && usesGantryWinograd && WinogradConvolution.applies(weight: weight, geometry: geometry)
            && weight[0] >= 16 && weight[1] >= 16
    }

    private func gantryWinograd(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry, outShape: [Int],
                                adjoint: Bool) throws -> Tensor {
        let channels = adjoint ? weight.shape[1] : weight.shape[0]
        let conv = WinogradConvolution(input: x.shape, outputChannels: channels, geometry: geometry, blockBytes: bandBytes)
        let y = try Tensor(uninitialized: outShape)
        try exclusive {
            let u = try winogradWeights.weights(for: weight, adjoint: adjoint)
            try conv.run(x: x.pointer, u: u, bias: bias?.pointer, y: y.mutablePointer)
        }
        return y
    }

    /// One stride-1 convolution per output phase (each banded like any other), scattered into
    /// the output as it comes, so only one phase's result is held beside the output.
    private func phasedConvTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, _ phased: PhasedTransposedConvolution,
                                       outShape: [Int]) throws -> Tensor {
        let weights = try exclusive { try phaseWeights.weights(for: weight, phased) }
        let y = try Tensor(uninitialized: outShape)
        for (phase, w) in zip(phased.phases, weights) {
            let part = try conv2d(x, weight: w, bias: bias, geometry: PhasedTransposedConvolution.geometry(phase.row, phase.column))
            exclusive { phased.scatter(part, row: phase.row, column: phase.column, into: y) }
        }
        return y
    }

    /// Where a strided layer's fused 3×3 form pays (measured in docs/performance.md): Gantry's
    /// Winograd in use, wide enough channels, enough tiles to amortise the transforms, and
    /// clearly fewer multiplications than direct (U-Net's 4×4 stride 2: 9 against 16 per output;
    /// resnet's 3×3 stride-2 up-sampling: 9 against 9, so it stays on the phase split).
    private func wantsFusedWinograd(inputs: Int, outputs: Int, tiles: Int, direct: Double, winograd: Double) -> Bool {
        algorithm == .winograd && usesGantryWinograd && inputs >= 16 && outputs >= 16
            && tiles >= Self.phaseWinogradMinimumTiles && direct >= 1.5 * winograd
    }

    private func wantsPhaseWinograd(_ f: PhaseWinograd) -> Bool {
        wantsFusedWinograd(inputs: f.inputChannels, outputs: f.phaseCount * f.outputChannels, tiles: f.tiles,
                           direct: f.directMultiplications, winograd: f.winogradMultiplications)
    }

    private func wantsSpaceToDepthWinograd(_ c: SpaceToDepthWinograd) -> Bool {
        wantsFusedWinograd(inputs: c.phaseCount * c.inputChannels, outputs: c.outputChannels, tiles: c.tiles,
                           direct: c.directMultiplications, winograd: c.winogradMultiplications)
    }

    /// Input tiles below which the fused phases stay on oneDNN's deconvolution.
    static let phaseWinogradMinimumTiles = 64

    /// The fused 3×3 convolution by Gantry's Winograd, its output transform writing each phase
    /// straight into its positions of the output.
    private func phaseWinograd(_ x: Tensor, weight: Tensor, bias: Tensor?, _ fused: PhaseWinograd,
                               outShape: [Int]) throws -> Tensor {
        let conv = fused.convolution(input: x.shape, output: outShape, blockBytes: bandBytes)
        let b = try bias.map { try fused.fusedBias($0) }
        let y = try Tensor(uninitialized: outShape)
        try exclusive {
            let u = try phaseWinogradWeights.weights(for: weight, adjoint: false, fuse: fused.fusedWeights)
            try conv.run(x: x.pointer, u: u, bias: b?.pointer, y: y.mutablePointer)
        }
        return y
    }

    /// The input split into its components, then one 3×3 convolution by Gantry's Winograd.
    private func spaceToDepthWinograd(_ x: Tensor, weight: Tensor, bias: Tensor?, _ s2d: SpaceToDepthWinograd,
                                      outShape: [Int]) throws -> Tensor {
        let grid = try s2d.components(x)
        let conv = WinogradConvolution(input: grid.shape, outputChannels: s2d.outputChannels, geometry: s2d.geometry,
                                       blockBytes: bandBytes)
        let y = try Tensor(uninitialized: outShape)
        try exclusive {
            let u = try spaceToDepthWeights.weights(for: weight, adjoint: false, fuse: s2d.fusedWeights)
            try conv.run(x: grid.pointer, u: u, bias: bias?.pointer, y: y.mutablePointer)
        }
        return y
    }

    /// oneDNN implements Winograd F(4×4, 3×3) for 3×3 stride-1 convolutions only.
    private func wantsWinograd(weight: [Int], geometry: ConvGeometry) -> Bool {
        algorithm == .winograd && weight[2] == 3 && weight[3] == 3 && geometry.strideH == 1 && geometry.strideW == 1
    }

    func run(transposed: Bool, _ x: Tensor, _ weight: Tensor, _ bias: Tensor?, _ geometry: ConvGeometry,
                     _ outShape: [Int], winograd: Bool) throws -> Tensor {
        let key = ConvPlanKey(transposed: transposed, input: x.shape, weight: weight.shape,
                              hasBias: bias != nil, geometry: geometry, winograd: winograd)
        lock.lock(); defer { lock.unlock() }
        setThreads()
        let plan = try plan(key, outShape)
        let prepared = try preparedWeights(weight, for: plan)
        let y = try Tensor(uninitialized: outShape)
        try plan.execute(x, weights: prepared, bias: bias, into: y, stream: stream)
        return y
    }

    private func plan(_ key: ConvPlanKey, _ outShape: [Int]) throws -> ConvPlan {
        if let plan = plans[key] { return plan }
        if plans.count >= maxPlans {
            plans.removeAll()
            weights.removeAll()
            winogradWeights.removeAll()
            phaseWeights.removeAll()
            phaseWinogradWeights.removeAll()
            spaceToDepthWeights.removeAll()
        }
        let plan: ConvPlan
        do {
            plan = try ConvPlan(key: key, outputShape: outShape, engine: engine)
        } catch where key.winograd {
            // oneDNN has no Winograd kernel for this shape or ISA: direct is the documented fallback.
            var direct = key
            direct.winograd = false
            plan = try plans[direct] ?? ConvPlan(key: direct, outputShape: outShape, engine: engine)
        }
        plans[key] = plan
        return plan
    }

    private func preparedWeights(_ weight: Tensor, for plan: ConvPlan) throws -> PreparedWeights {
        let id = ObjectIdentifier(weight.storage)
        var list = (weights[id] ?? []).filter { $0.storage === weight.storage && $0.version == weight.storage.version }
        if let hit = list.first(where: { gantry_pd_md_equals_memory(plan.pd, GANTRY_MD_WEIGHTS, $0.memory) != 0 }) {
            return hit
        }
        let prepared = try plan.makeWeights(weight, engine: engine, stream: stream)
        list.append(prepared)
        weights[id] = list
        if weights.count % 64 == 0 { weights = weights.filter { $0.value.contains { $0.storage != nil } } }
        return prepared
    }
}
