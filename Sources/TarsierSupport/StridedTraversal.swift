/// Row-major traversal of a strided view of a buffer (shape, strides and offset in elements),
/// shared by tensor copies and the `.pth` reader.
public enum StridedTraversal {
    /// True when `strides` lay out `shape` row-major without gaps (size-1 axes are ignored).
    public static func isRowMajor(shape: [Int], strides: [Int]) -> Bool {
        var expected = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) where shape[axis] != 1 {
            if strides[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }

    /// Calls `body(source, destination)` once per innermost row, in row-major order: `source` is
    /// the element offset of the row's first element in the strided buffer, `destination` its
    /// index in a dense row-major copy. A row has `shape.last` elements `strides.last` apart.
    public static func forEachRow(shape: [Int], strides: [Int], offset: Int,
                                  _ body: (_ source: Int, _ destination: Int) -> Void) {
        let total = shape.reduce(1, *)
        guard total > 0 else { return }
        guard let inner = shape.last else { body(offset, 0); return }
        let rank = shape.count
        var index = [Int](repeating: 0, count: rank)
        var source = offset
        var destination = 0
        while destination < total {
            body(source, destination)
            destination += inner
            // Advance the odometer over the outer axes.
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                source += strides[axis]
                if index[axis] < shape[axis] { break }
                source -= strides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }
}
