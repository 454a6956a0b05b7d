/// Shape and layout changes: reshape, permute, transpose, slice, concat, stack, pad.
extension Tensor {
    /// The same elements in a new shape; one dimension may be -1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let unknown = target.firstIndex(of: -1) {
            let known = target.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            target[unknown] = count / known
        }
        precondition(target.reduce(1, *) == count, "cannot reshape \(shape) (\(count) elements) to \(newShape)")
        if target == shape { return self }
        let base = contiguous()
        var y = Tensor(storage: base.storage, shape: target, offset: base.offset, device: device)
        y.gradNode = nil
        let source = shape
        return Autograd.record(y, inputs: [self]) { g in [g.reshaped(source)] }
    }

    /// Flattens axes `start...end` into one.
    public func flattened(from start: Int = 1, through end: Int = -1) -> Tensor {
        if rank == 0 { return reshaped([1]) }
        let s = axis(start), e = axis(end)
        let merged = shape[s...e].reduce(1, *)
        return reshaped(Array(shape[..<s]) + [merged] + Array(shape[(e + 1)...]))
    }

    /// A view with axes reordered: result axis i is input axis `order[i]`.
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.sorted() == Array(0..<rank), "permutation \(order) invalid for rank \(rank)")
        let y = Tensor(storage: storage, shape: order.map { shape[$0] }, strides: order.map { strides[$0] },
                       offset: offset, device: device)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return Autograd.record(y, inputs: [self]) { g in [g.permuted(inverse)] }
    }

    /// A view with two axes swapped (the last two by default).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(axis(a), axis(b))
        return permuted(order)
    }

    /// A view of `range` along `axis` (step 1).
    public func slice(axis a: Int, _ range: Range<Int>) -> Tensor {
        let ax = axis(a)
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[ax],
                     "slice \(range) out of bounds for axis \(ax) of shape \(shape)")
        var newShape = shape
        newShape[ax] = range.count
        let y = Tensor(storage: storage, shape: newShape, strides: strides, offset: offset + range.lowerBound * strides[ax],
                       device: device)
        let source = shape, dt = dtype, dev = device
        return Autograd.record(y, inputs: [self]) { g in
            var pieces: [Tensor] = []
            if range.lowerBound > 0 {
                var s = source; s[ax] = range.lowerBound
                pieces.append(Tensor(zeros: s, dtype: dt, device: dev))
            }
            pieces.append(g)
            if range.upperBound < source[ax] {
                var s = source; s[ax] = source[ax] - range.upperBound
                pieces.append(Tensor(zeros: s, dtype: dt, device: dev))
            }
            return [Tensor.concatenate(pieces, axis: ax)]
        }
    }

    /// Joins tensors of equal shape but for `axis`.
    public static func concatenate(_ tensors: [Tensor], axis a: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concatenate needs at least one tensor")
        let first = tensors[0]
        let ax = first.axis(a)
        for t in tensors {
            precondition(t.rank == first.rank && t.dtype == first.dtype, "concatenate: shapes \(tensors.map(\.shape))")
            for i in 0..<t.rank where i != ax {
                precondition(t.shape[i] == first.shape[i], "concatenate along \(ax): shapes \(tensors.map(\.shape))")
            }
        }
        var outShape = first.shape
        outShape[ax] = tensors.reduce(0) { $0 + $1.shape[ax] }
        let out = Tensor(uninitialized: outShape, dtype: first.dtype, device: first.device)
        let outer = first.shape[..<ax].reduce(1, *)
        let inner = first.shape[(ax + 1)...].reduce(1, *)
        let outRow = outShape[ax] * inner
        var column = 0
        let elementBytes = first.dtype.byteCount
        for t in tensors {
            let c = t.contiguous()
            let rowBytes = t.shape[ax] * inner * elementBytes
            for o in 0..<outer {
                let dst = out.storage.base + (o * outRow + column * inner) * elementBytes
                let src = c.storage.base + (c.offset + o * t.shape[ax] * inner) * elementBytes
                dst.copyMemory(from: src, byteCount: rowBytes)
            }
            column += t.shape[ax]
        }
        let sizes = tensors.map { $0.shape[ax] }
        return Autograd.record(out, inputs: tensors) { g in
            var start = 0
            return sizes.map { size in
                defer { start += size }
                return g.slice(axis: ax, start..<(start + size)).contiguous()
            }
        }
    }

    /// Stacks equal-shaped tensors along a new axis.
    public static func stack(_ tensors: [Tensor], axis a: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "stack needs at least one tensor")
        let r = tensors[0].rank + 1
        let ax = a < 0 ? a + r : a
        return concatenate(tensors.map { t in
            var s = t.shape; s.insert(1, at: ax); return t.reshaped(s)
        }, axis: ax)
    }

    /// Zero-pads the last two axes (top/bottom by `height`, left/right by `width`), filling with `value`.
    public func padded2d(height: Int, width: Int, value: Double = 0) -> Tensor {
        precondition(rank >= 2, "padded2d needs rank >= 2, shape is \(shape)")
        let h = shape[rank - 2], w = shape[rank - 1]
        var outShape = shape
        outShape[rank - 2] = h + 2 * height
        outShape[rank - 1] = w + 2 * width
        let out = Tensor(repeating: value, shape: outShape, dtype: dtype, device: device)
        let c = contiguous()
        let planes = count / Swift.max(h * w, 1)
        let oh = outShape[rank - 2], ow = outShape[rank - 1]
        let e = dtype.byteCount
        for p in 0..<planes {
            for y in 0..<h {
                let dst = out.storage.base + ((p * oh + y + height) * ow + width) * e
                let src = c.storage.base + (c.offset + (p * h + y) * w) * e
                dst.copyMemory(from: src, byteCount: w * e)
            }
        }
        return Autograd.record(out, inputs: [self]) { g in
            [g.slice(axis: -2, height..<(height + h)).slice(axis: -1, width..<(width + w)).contiguous()]
        }
    }
}
