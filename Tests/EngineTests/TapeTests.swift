import Engine
import Foundation
import Testing
import TestSupport

/// The tape's semantics: what PyTorch's autograd does for the training steps of the reference.
struct TapeTests {
    let backend = Backends.direct

    func conv(_ x: Variable, _ w: Variable) throws -> Variable {
        try conv2d(x, weight: w, bias: nil, geometry: ConvGeometry(padding: 1), backend: backend)
    }

    @Test func aNetworkAppliedTwiceSumsItsGradients() throws {
        let w = randomVariable([2, 2, 3, 3], seed: 1)
        let a = randomVariable([1, 2, 4, 4], seed: 2, requiresGrad: false)
        let b = randomVariable([1, 2, 4, 4], seed: 3, requiresGrad: false)
        try add(mean(conv(a, w)), mean(conv(b, w))).backward()
        let both = w.grad!.values
        w.zeroGrad()
        try mean(conv(a, w)).backward()
        let fromA = w.grad!.values
        w.zeroGrad()
        try mean(conv(b, w)).backward()
        let fromB = w.grad!.values
        #expect(relativeL2(both, zip(fromA, fromB).map(+)) < 1e-6)
    }

    @Test func backwardCallsAccumulateUntilZeroGrad() throws {
        let w = randomVariable([2, 2, 3, 3], seed: 4)
        let x = randomVariable([1, 2, 4, 4], seed: 5, requiresGrad: false)
        try mean(conv(x, w)).backward()
        let once = w.grad!.values
        try mean(conv(x, w)).backward()
        #expect(relativeL2(w.grad!.values, once.map { 2 * $0 }) < 1e-6)
        w.zeroGrad()
        #expect(w.grad == nil)
    }

    @Test func detachAndFrozenParametersStopGradients() throws {
        let g = randomVariable([2, 2, 3, 3], seed: 6)  // "generator"
        let d = randomVariable([1, 2, 3, 3], seed: 7)  // "discriminator"
        let x = randomVariable([1, 2, 4, 4], seed: 8, requiresGrad: false)
        let fake = try conv(x, g)
        // D step: fake.detach() — no gradient reaches G.
        try mean(conv(fake.detached(), d)).backward()
        #expect(g.grad == nil)
        #expect(d.grad != nil)
        // G step with D frozen: G gets a gradient through D, D gets none.
        d.zeroGrad()
        d.requiresGrad = false
        try mean(conv(fake, d)).backward()
        #expect(d.grad == nil)
        #expect(g.grad != nil)
    }

    @Test func aFreedGraphCannotBeReusedButARetainedOneCan() throws {
        let w = randomVariable([2, 2, 3, 3], seed: 9)
        let x = randomVariable([1, 2, 4, 4], seed: 10)
        let loss = try mean(conv(x, w))
        try loss.backward(retainGraph: true)
        try loss.backward()
        #expect(throws: EngineError.self) { try loss.backward() }
    }

    @Test func changingAWeightBetweenForwardAndBackwardIsAnError() throws {
        let w = randomVariable([2, 2, 3, 3], seed: 11)
        let x = randomVariable([1, 2, 4, 4], seed: 12)
        let loss = try mean(conv(x, w))
        w.data.assign(from: randomTensor(w.shape, seed: 13))
        #expect(throws: EngineError.self) { try loss.backward() }
    }

    @Test func nothingIsRecordedWithoutAGradientToCompute() throws {
        let x = randomVariable([1, 2, 4, 4], seed: 14, requiresGrad: false)
        let w = randomVariable([2, 2, 3, 3], seed: 15, requiresGrad: false)
        let y = try conv(x, w)
        #expect(y.isLeaf && !y.requiresGrad)
        #expect(throws: EngineError.self) { try mean(y).backward() }
    }

    /// Activations live while a backward needs them and no longer: the graph holds the hidden
    /// activation until backward, which frees it even though the loss value is still held.
    @Test func backwardFreesTheActivationsItSaved() throws {
        let w = randomVariable([4, 4, 3, 3], seed: 16)
        let x = randomVariable([1, 4, 16, 16], seed: 17, requiresGrad: false)
        weak var hidden: TensorStorage?
        let loss: Variable
        do {
            let h = try Activation.tanh(conv(x, w))
            hidden = h.data.storage
            loss = try mean(Activation.relu(conv(h, w)))
        }
        #expect(hidden != nil)
        try loss.backward()
        #expect(hidden == nil)
        #expect(loss.data.values.count == 1)
    }

    /// A value no backward needs is freed during the forward: the graph holds the norm's input
    /// and statistics and the ReLU's output, not the norm's output in between.
    @Test func valuesNoBackwardNeedsAreFreedDuringTheForward() throws {
        let w = randomVariable([4, 4, 3, 3], seed: 18)
        let x = randomVariable([1, 4, 16, 16], seed: 19, requiresGrad: false)
        weak var normalised: TensorStorage?
        let loss: Variable
        do {
            let n = try normalize(conv(x, w), statistics: .perInstance, weight: nil, bias: nil).output
            normalised = n.data.storage
            loss = try mean(Activation.relu(n))
        }
        #expect(normalised == nil)
        try loss.backward()
        #expect(w.grad != nil)
    }
}
