import Engine
import Foundation
import Imaging
import Models
import Runs
import TestSupport
import Testing
import Training

/// The colorization recipe against the reference (`tools/fixtures/make_colorization_fixtures.py`):
/// the dataset's A = L/50 − 1 and B = ab/110 of RGB images (skimage's rgb2lab in float32), and
/// the first optimisation step on them — every loss and gradient against a float64 PyTorch run,
/// with `TrainingStepParityTests`' tolerances.
struct ColorizationTests {
    @Test func datasetPairsMatchTheReference() throws {
        let f = try TrainingFixture("colorization_step")
        let rgb = f["input.rgb"], a = f["input.A"], b = f["input.B"]
        let (n, _, h, w) = rgb.nchw
        var worst: Float = 0
        for i in 0..<n {
            let values = try rgb.image(i).values
            let image = PlanarImage(width: w, height: h, planes: (0..<3).map { Array(values[($0 * h * w)..<(($0 + 1) * h * w)]) }, maxValue: 255)
            let pair = try Tensor.colorizationPair(image)
            #expect(pair.l.shape == [1, 1, h, w] && pair.ab.shape == [1, 2, h, w])
            let l = try a.image(i).values, ab = try b.image(i).values
            worst = max(worst, zip(pair.l.values, l).map { abs($0 - $1) }.max()!, zip(pair.ab.values, ab).map { abs($0 - $1) }.max()!)
        }
        // Both sides round the same float64 Lab to float32: equal but for a tie at most.
        #expect(worst <= 1e-6, "largest difference from the reference's A and B: \(worst)")
    }

    @Test func firstStepMatchesPyTorch() throws {
        let parity = TrainingStepParityTests()
        let f = try TrainingFixture("colorization_step")
        let g = try Generator(.unet(downs: 5, ngf: 4, norm: .batch, dropout: false, inputChannels: 1, outputChannels: 2))
        let d = try Discriminator(.nLayers(3, ndf: 4, norm: .batch, inputChannels: 3))
        #expect(f.load(g.root, prefix: "init.G") == g.root.namedTensors().count)
        #expect(f.load(d.root, prefix: "init.D") == d.root.namedTensors().count)
        let model = Pix2PixModel(generator: g, discriminator: d, objective: .vanilla, lambdaL1: 100, context: parity.context)
        let (a, b) = (f["input.A"], f["input.B"])
        var losses = Pix2PixModel.Losses()
        let fake = try model.forward(a)
        #expect(relativeL2(fake.data.values, f["fake64"].values) <= TrainingStepParityTests.tolerance)
        try model.backwardD(realA: a, realB: b, fake: fake, losses: &losses)
        parity.expectLoss(losses.dFake, f, "D_fake")
        parity.expectLoss(losses.dReal, f, "D_real")
        parity.expectClose(parity.compareGradients(d.root, f, prefix: "D"))
        f.load(d.root, prefix: "adam64.D")
        try model.backwardG(realA: a, realB: b, fake: fake, losses: &losses)
        parity.expectLoss(losses.gGAN, f, "G_GAN")
        parity.expectLoss(losses.gL1, f, "G_L1")
        parity.expectClose(parity.compareGradients(g.root, f, prefix: "G"))
    }

    /// The recipe's options are the reference's for `--model colorization`, and other channel
    /// counts are refused as its dataset refuses them.
    @Test func optionsAreTheReferenceDefaults() throws {
        let o = TrainingOptions.defaults(for: .colorization)
        #expect(o.netG == "unet_256" && o.norm == .batch && o.ganMode == .vanilla && o.poolSize == 0 && !o.noDropout)
        #expect(o.inputNC == 1 && o.outputNC == 2 && o.direction == .aToB && o.lambdaL1 == 100)
        var bad = o
        (bad.data, bad.run, bad.outputNC) = ("d", "r", 3)
        #expect(throws: TrainingError.self) { try bad.validate() }
    }

    /// Photos in the data folder itself (or in train/) become L → ab items at their size.
    @Test func datasetReadsAFlatFolderOfPhotos() throws {
        let dir = try TemporaryDirectory()
        try dir.write("photos/a.png", try TestImages.png(width: 40, height: 24, seed: 1))
        try dir.write("photos/sub/b.jpg", try TestImages.png(width: 40, height: 24, seed: 2))
        // Another phase's photos are not training photos.
        try dir.write("photos/test/c.png", try TestImages.png(width: 40, height: 24, seed: 3))
        try dir.write("photos/val/d.png", try TestImages.png(width: 40, height: 24, seed: 4))
        var o = TrainingOptions.defaults(for: .colorization)
        (o.data, o.run, o.preprocess, o.noFlip) = (dir.path("photos"), dir.path("run"), .none, true)
        let data = try TrainingDataset(o)
        #expect(data.layout == .colorization && data.count == 2)
        let item = try data.item(0, random: RandomSource(seed: 1))
        #expect(item.input.shape == [1, 1, 24, 40] && item.target.shape == [1, 2, 24, 40])
        let photo = PlanarImage(try ImageCodec.decodeFile(atPath: dir.path("photos/a.png")))
        let pair = try Tensor.colorizationPair(photo)
        #expect(item.input.values == pair.l.values && item.target.values == pair.ab.values)
    }
}
