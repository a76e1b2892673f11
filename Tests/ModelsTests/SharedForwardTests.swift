import Engine
import Foundation
@testable import Models
import Testing
import TestSupport

/// Conversion and training run each layer's one forward (`ForwardPass`). Conversion alone writes
/// results over intermediates nobody else holds — never over its input — and the two passes give
/// the same values.
struct SharedForwardTests {
    /// The reference backend, remembering where each convolution put its output.
    final class RecordingBackend: ConvolutionBackend, @unchecked Sendable {
        let wrapped = Backends.reference
        private let lock = NSLock()
        private var outputs: [Int] = []
        var name: String { "recording" }
        /// Where the latest convolution's output lives.
        var last: Int? { lock.withLock { outputs.last } }

        private func noted(_ y: Tensor) -> Tensor {
            let address = SharedForwardTests.address(y)
            lock.withLock { outputs.append(address) }
            return y
        }

        func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry) throws -> Tensor {
            noted(try wrapped.conv2d(x, weight: weight, bias: bias, geometry: geometry))
        }

        func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry) throws -> Tensor {
            noted(try wrapped.convTranspose2d(x, weight: weight, bias: bias, geometry: geometry))
        }

        func convolutionBackwardData(_ gradOutput: Tensor, weight: Tensor, inputShape: [Int], geometry: ConvGeometry,
                                     transposed: Bool) throws -> Tensor {
            try wrapped.convolutionBackwardData(gradOutput, weight: weight, inputShape: inputShape, geometry: geometry,
                                                transposed: transposed)
        }

        func convolutionBackwardWeights(_ x: Tensor, gradOutput: Tensor, weightShape: [Int], bias: Bool,
                                        geometry: ConvGeometry, transposed: Bool) throws -> (weight: Tensor, bias: Tensor?) {
            try wrapped.convolutionBackwardWeights(x, gradOutput: gradOutput, weightShape: weightShape, bias: bias,
                                                   geometry: geometry, transposed: transposed)
        }
    }

    static func address(_ t: Tensor) -> Int { t.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) } }

    static func randomized(_ module: Module, seed: UInt64) throws -> Module {
        for (i, m) in module.modules(of: Module.self).enumerated() {
            for (name, value) in m.tensors where !m.bufferNames.contains(name) {
                m.setTensor(name, randomTensor(value.shape, seed: seed + UInt64(i), scale: 0.5))
            }
        }
        return module
    }

    /// conv → norm → ReLU: in conversion the norm and ReLU run as one pass written over the
    /// convolution's output; in training that output is kept (the norm's backward needs it).
    @Test func conversionWritesOverTheConvolutionsOutputAndTrainingKeepsIt() throws {
        let block = try Self.randomized(Sequential([Conv2d(2, 3, kernel: 3, padding: 1, bias: true),
                                                    Norm2d(.instance(affine: true, tracksRunningStats: false), channels: 3),
                                                    ActivationLayer(.relu)]), seed: 1)
        let x = randomTensor([1, 2, 6, 7], seed: 2)
        let before = x.values
        let converting = RecordingBackend()
        let converted = try block.forward(x, ForwardContext(backend: converting))
        #expect(Self.address(converted) == converting.last)
        #expect(x.values == before)

        let training = RecordingBackend()
        let trained = try block.forward(Variable(x), TrainingContext(backend: training))
        #expect(Self.address(trained.data) != training.last)
        #expect(trained.requiresGrad)
        #expect(trained.data.values == converted.values)
    }

    /// A residual block's sum lands where its body's last convolution wrote (the norm after it
    /// works in place too), and the block's input — read again by the sum — stays intact.
    @Test func residualSumReusesTheBodyAndSparesTheInput() throws {
        let block = try Self.randomized(ResnetBlock(3, norm: .instance, dropout: false, bias: true), seed: 3)
        let x = randomTensor([1, 3, 5, 5], seed: 4)
        let before = x.values
        let backend = RecordingBackend()
        let y = try block.forward(x, ForwardContext(backend: backend))
        #expect(Self.address(y) == backend.last)
        #expect(x.values == before)
        let trained = try block.forward(Variable(x), TrainingContext(backend: Backends.reference))
        #expect(trained.data.values == y.values)
    }

    /// Every generator family: conversion leaves the caller's image as it was (the U-Net's first
    /// LeakyReLU and its skips read it), and the two passes agree.
    @Test(arguments: TrainingForwardTests.architectures)
    func conversionLeavesTheInputAndMatchesTraining(_ a: GeneratorArchitecture) throws {
        let g = try Generator(a)
        try g.initializeRandomly(seed: 7, gain: 0.3)
        let x = randomTensor([1, 3, 32, 32], seed: 8)
        let before = x.values
        let condition = a.family == .stargan ? try Tensor(shape: [1, 2], values: [0, 1]) : nil
        let converted = try g.forward(x, condition: condition, context: ForwardContext(backend: Backends.reference))
        #expect(x.values == before)
        let trained = try g.forward(Variable(x), condition: condition,
                                    context: TrainingContext(backend: Backends.reference, updatesRunningStatistics: false))
        #expect(trained.data.values == converted.values)
    }
}
