/// Large convolutions run in horizontal bands.
///
/// oneDNN wants its own blocked copies of a convolution's input and output plus a scratchpad
/// (Winograd's is over twice the activation size); for a 64-channel layer at 12 megapixels each
/// is 3 GB. Running the convolution band by band keeps those transient buffers to a few tens of
/// MB while the result is exactly the same: every band sees the rows it needs (halo included)
/// and the true image borders keep their zero padding.
extension DNNLBackend {
    func bandedConv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry, outShape: [Int],
                      winograd: Bool) throws -> Tensor? {
        let outBytes = outShape.reduce(1, *) * 4
        let (n, cout, oh, ow) = (outShape[0], outShape[1], outShape[2], outShape[3])
        guard outBytes > 2 * bandBytes, oh >= 4 else { return nil }
        let (h, w) = (x.shape[2], x.shape[3])
        let kh = weight.shape[2]
        let bands = (outBytes + bandBytes - 1) / bandBytes
        let rows = (oh + bands - 1) / bands
        let y = try Tensor(uninitialized: outShape)
        for oy0 in stride(from: 0, to: oh, by: rows) {
            let oy1 = min(oh, oy0 + rows)
            // Input rows [a, b) feed output rows [oy0, oy1); rows outside the image are padding.
            let a = oy0 * g.strideH - g.padTop, b = (oy1 - 1) * g.strideH - g.padTop + kh
            let i0 = max(0, a), i1 = min(h, b)
            var bg = g
            bg.padTop = i0 - a
            bg.padBottom = b - i1
            let band = try crop2d(x, top: i0, left: 0, height: i1 - i0, width: w)
            let out = try run(transposed: false, band, weight, bias, bg, [n, cout, oy1 - oy0, ow], winograd: winograd)
            for plane in 0..<(n * cout) {
                (y.mutablePointer + (plane * oh + oy0) * ow)
                    .update(from: out.pointer + plane * (oy1 - oy0) * ow, count: (oy1 - oy0) * ow)
            }
        }
        return y
    }

    /// Transposed convolutions band by *input* rows: each band's full (unpadded) output is added
    /// at its place, so rows where neighbouring bands overlap receive both contributions.
    func bandedConvTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry,
                               outShape: [Int]) throws -> Tensor? {
        let outBytes = outShape.reduce(1, *) * 4
        let (n, cout, oh, ow) = (outShape[0], outShape[1], outShape[2], outShape[3])
        let (h, w) = (x.shape[2], x.shape[3])
        guard outBytes > 2 * bandBytes, h >= 4 else { return nil }
        let (kh, kw) = (weight.shape[2], weight.shape[3])
        let bands = (outBytes + bandBytes - 1) / bandBytes
        let rows = max(1, (h + bands - 1) / bands)
        let y = try Tensor(zeros: outShape)
        // Columns are not banded: the band's output spans the full padded width, cropped below.
        let bandWidth = (w - 1) * g.strideW + kw
        let bg = ConvGeometry(strideH: g.strideH, strideW: g.strideW, padTop: 0, padLeft: 0, padBottom: 0, padRight: 0)
        for i0 in stride(from: 0, to: h, by: rows) {
            let i1 = min(h, i0 + rows)
            let band = try crop2d(x, top: i0, left: 0, height: i1 - i0, width: w)
            let bandHeight = (i1 - i0 - 1) * g.strideH + kh
            let out = try run(transposed: true, band, weight, nil, bg, [n, cout, bandHeight, bandWidth], winograd: false)
            let rowOffset = i0 * g.strideH - g.padTop
            let op = out.pointer, yp = y.mutablePointer
            for plane in 0..<(n * cout) {
                for r in 0..<bandHeight {
                    let oy = rowOffset + r
                    guard oy >= 0, oy < oh else { continue }
                    let src = op + (plane * bandHeight + r) * bandWidth + g.padLeft
                    let dst = yp + (plane * oh + oy) * ow
                    let count = min(ow, bandWidth - g.padLeft)
                    for c in 0..<count { dst[c] += src[c] }
                }
            }
        }
        if let bias {
            let bp = bias.pointer, yp = y.mutablePointer
            for plane in 0..<(n * cout) {
                let v = bp[plane % cout]
                for i in 0..<(oh * ow) { yp[plane * oh * ow + i] += v }
            }
        }
        return y
    }
}
