extension TrainingOptions {
    /// One line of help per option, for `gantry train RECIPE --help` (every key has one:
    /// `TrainingOptionsTests.everyOptionHasHelp`). Choices are listed by the help table itself.
    static let help: [String: String] = [
        "data": "The dataset folder (pix2pix: train/ with A|B side by side, or A/ and B/; CycleGAN, CUT: trainA/ and trainB/; StarGAN: a folder per domain or the images of --attributes; DCGAN: images).",
        "run": "The run folder to write: checkpoints, losses, curves, samples, index.html, state.",
        "net-g": "The generator architecture.",
        "net-d": "The discriminator: basic (70×70 PatchGAN), n_layers (--n-layers-d) or pixel (1×1).",
        "n-layers-d": "Layers of the n_layers discriminator.",
        "ngf": "Filters in the generator's first layer (StarGAN: g_conv_dim).",
        "ndf": "Filters in the discriminator's first layer (StarGAN: d_conv_dim).",
        "norm": "Normalisation layers.",
        "no-dropout": "No dropout in the generator.",
        "init-type": "Weight initialisation.",
        "init-gain": "Scale of the initial weights.",
        "input-nc": "Channels of the input images (1: grey, 3: colour).",
        "output-nc": "Channels of the output images.",
        "direction": "AtoB or BtoA: which side of the pairs is the input.",
        "preprocess": "How training images are sized and cropped.",
        "load-size": "Scale images to this size before cropping.",
        "crop-size": "Then crop to this size (StarGAN: the centre crop before --image-size).",
        "no-flip": "No random horizontal flips.",
        "serial-batches": "Take images in order instead of shuffled.",
        "batch-size": "Images per iteration.",
        "max-dataset-size": "Use at most this many images (inf: all).",
        "gan-mode": "The GAN objective (docs/objectives.md).",
        "lambda-gp": "Weight of the gradient penalty (wgangp).",
        "clip": "Clip the critic's weights to ±this (wgan).",
        "n-critic": "Discriminator steps per generator step.",
        "optimizer": "auto: RMSprop for wgan, Adam otherwise.",
        "lambda-l1": "Weight of the L1 term (pix2pix).",
        "lambda-a": "Weight of the A→B→A cycle loss.",
        "lambda-b": "Weight of the B→A→B cycle loss.",
        "lambda-identity": "Weight of the identity loss, relative to the cycle loss.",
        "ema": "Also keep an exponential moving average of the generators' weights with this decay (e.g. 0.999; 0: none), saved as <epoch>_net_G_ema.pth; convert -m RUN uses it.",
        "pool-size": "Fakes kept in the image pool for the discriminator (0: none).",
        "attributes": "An attribute table (CelebA's list_attr_celeba.txt or a CSV); empty: a folder per domain.",
        "selected-attrs": "The attribute columns to train on, comma-separated.",
        "hold-out": "Which images of an attribute table stay out of training (auto: CelebA's 1,999, as the solver).",
        "domains": "The label names, written by training (one condition value each).",
        "image-size": "Side of the images the networks see.",
        "nz": "Length of the noise vector z.",
        "lambda-gan": "Weight of the GAN loss GAN(G(X)) (CUT).",
        "lambda-nce": "Weight of the PatchNCE loss NCE(G(X), X) (CUT 1, FastCUT 10).",
        "nce-idt": "Also the NCE loss of (Y, G(Y)) on B images, averaged with NCE(G(X), X) (CUT: true, FastCUT: false; --nce-idt=false).",
        "nce-layers": "G's layer indices whose outputs PatchNCE compares, comma-separated (0,4,8,12,16).",
        "netf-nc": "Width of PatchSampleF's MLP heads.",
        "nce-t": "Temperature of the PatchNCE logits.",
        "num-patches": "Positions sampled per layer for PatchNCE.",
        "flip-equivariance": "Flip each batch horizontally with probability 0.5 before G, undone on its features (FastCUT).",
        "no-antialias": "Stride-2 convolutions instead of the blurred down-sampling, in G and D.",
        "no-antialias-up": "Transposed convolutions instead of the blurred up-sampling, in G.",
        "g-repeat-num": "Residual blocks in the generator.",
        "d-repeat-num": "Stride-2 layers in the discriminator.",
        "lambda-cls": "Weight of the domain classification loss.",
        "lambda-rec": "Weight of the reconstruction loss.",
        "num-iters": "Iterations to train.",
        "num-iters-decay": "Iterations at the end over which the learning rate decays.",
        "lr-update-step": "Iterations between learning-rate updates during the decay.",
        "d-lr": "The discriminator's learning rate (same: as --lr).",
        "model-save-step": "Iterations between models/<iter>-G.ckpt checkpoints (and resumable states).",
        "sample-step": "Iterations between sample grids.",
        "lr": "Initial learning rate (StarGAN: g_lr).",
        "beta1": "Adam's β₁.",
        "lr-policy": "How the learning rate changes over epochs.",
        "lr-decay-iters": "Epochs between decays (--lr-policy step).",
        "n-epochs": "Epochs at the initial learning rate.",
        "n-epochs-decay": "Epochs over which the learning rate decays to zero (linear).",
        "epoch-count": "The number of the first epoch (continuing from weights alone).",
        "save-epoch-freq": "Epochs between numbered checkpoints (<epoch>_net_*.pth).",
        "continue": "Carry on the run in --run: exactly from its state.json, or from saved weights.",
        "overwrite": "Start over in a --run folder that already holds a run (its files are replaced).",
        "epoch": "With --continue: the saved weights to start from (latest or an epoch number).",
        "seed": "Seed of every random draw: the same seed trains the same run.",
        "threads": "Compute threads (auto: one per core).",
    ]

    /// The options `recipe` takes, in config.yaml's order: every spelling (as flags), one line of
    /// help, the recipe's default and, for a choice, the values it takes.
    public static func helpRows(for recipe: TrainingRecipe) -> [(spellings: [String], help: String, value: String?)] {
        let defaults = TrainingOptions.defaults(for: recipe)
        return keys.filter { $0.recipes.contains(recipe) }.map { key in
            let spellings = ([key.name] + (key.reference == key.name ? [] : [key.reference]) + key.aliases).map { "--" + $0 }
            var text = help[key.name] ?? ""
            if let choices = key.choices { text += " One of: \(choices.joined(separator: ", "))." }
            let value = key.get(defaults)
            if !key.isFlag && !value.isEmpty { text += " (default: \(value))" }
            return (spellings, text, key.isFlag ? nil : "<value>")
        }
    }
}
