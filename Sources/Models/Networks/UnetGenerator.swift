import Engine

/// pix2pix's `UnetGenerator`: `num_downs` k4s2 downsamplings with skip connections, built from
/// the innermost block outwards exactly as the reference does, so keys nest as
/// `model.model.1.model.3.model…`.
enum UnetGenerator {
    static func make(_ a: GeneratorArchitecture) throws -> Module {
        let ngf = a.ngf
        var block = try UnetBlock(outer: ngf * 8, inner: ngf * 8, role: .innermost, norm: a.norm, dropout: false)
        for _ in 0..<max(0, a.depth - 5) {
            block = try UnetBlock(outer: ngf * 8, inner: ngf * 8, submodule: block, norm: a.norm, dropout: a.dropout)
        }
        block = try UnetBlock(outer: ngf * 4, inner: ngf * 8, submodule: block, norm: a.norm, dropout: false)
        block = try UnetBlock(outer: ngf * 2, inner: ngf * 4, submodule: block, norm: a.norm, dropout: false)
        block = try UnetBlock(outer: ngf, inner: ngf * 2, submodule: block, norm: a.norm, dropout: false)
        let outermost = try UnetBlock(outer: a.outputChannels, inner: ngf, input: a.inputChannels, submodule: block,
                                  role: .outermost, norm: a.norm, dropout: false)
        return Root("model", outermost)
    }
}

/// `UnetSkipConnectionBlock`: down → submodule → up, concatenated with its input unless outermost.
final class UnetBlock: Module {
    enum Role { case outermost, middle, innermost }

    let role: Role

    init(outer: Int, inner: Int, input: Int? = nil, submodule: Module? = nil, role: Role = .middle,
         norm: GeneratorArchitecture.Norm, dropout: Bool) throws {
        self.role = role
        super.init()
        let useBias = norm == .instance
        let downconv = try Conv2d(input ?? outer, inner, kernel: 4, stride: 2, padding: 1, bias: useBias)
        let layers: [Module]
        switch role {
        case .outermost:
            layers = try [downconv, submodule!, ActivationLayer(.relu),
                      ConvTranspose2d(inner * 2, outer, kernel: 4, stride: 2, padding: 1, bias: true),
                      ActivationLayer(.tanh)]
        case .innermost:
            layers = try [ActivationLayer(.leakyReLU(slope: 0.2)), downconv, ActivationLayer(.relu),
                      ConvTranspose2d(inner, outer, kernel: 4, stride: 2, padding: 1, bias: useBias),
                      ResnetGenerator.norm(norm, outer)]
        case .middle:
            var l: [Module] = try [ActivationLayer(.leakyReLU(slope: 0.2)), downconv, ResnetGenerator.norm(norm, inner),
                               submodule!, ActivationLayer(.relu),
                               ConvTranspose2d(inner * 2, outer, kernel: 4, stride: 2, padding: 1, bias: useBias),
                               ResnetGenerator.norm(norm, outer)]
            if dropout { l.append(DropoutLayer(0.5)) }
            layers = l
        }
        children = [("model", Sequential(layers))]
    }

    // The reference's in-place LeakyReLU also rewrites the skip tensor x; the parent's ReLU
    // makes that invisible in values and gradients alike (ReLU∘LeakyReLU = ReLU), so the skip
    // carries x itself here.
    override func forward(_ x: Variable, _ pass: ForwardPass) throws -> Variable {
        let y = try children[0].module.forward(x, pass)
        return role == .outermost ? y : try concatChannels([x, y])
    }
}
