/// Counts of (true label, predicted label) pairs for a classifier.
public struct ConfusionMatrix: Codable, Equatable, Sendable {
    /// The number of classes.
    public let classCount: Int
    /// Row-major counts: `counts[label * classCount + predicted]`.
    public private(set) var counts: [Int]

    /// Creates an empty matrix.
    public init(classCount: Int) {
        precondition(classCount > 0, "classCount must be positive")
        self.classCount = classCount
        counts = [Int](repeating: 0, count: classCount * classCount)
    }

    /// Creates a matrix from paired labels and predictions.
    public init(classCount: Int, labels: [Int], predictions: [Int]) {
        self.init(classCount: classCount)
        add(labels: labels, predictions: predictions)
    }

    /// Records one example.
    public mutating func add(label: Int, predicted: Int) {
        precondition(label >= 0 && label < classCount, "label \(label) is outside 0..<\(classCount)")
        precondition(predicted >= 0 && predicted < classCount,
                     "prediction \(predicted) is outside 0..<\(classCount)")
        counts[label * classCount + predicted] += 1
    }

    /// Records paired labels and predictions.
    public mutating func add(labels: [Int], predictions: [Int]) {
        precondition(labels.count == predictions.count,
                     "\(labels.count) labels but \(predictions.count) predictions")
        for (label, predicted) in zip(labels, predictions) { add(label: label, predicted: predicted) }
    }

    /// Adds another matrix's counts (for example from another worker).
    public mutating func merge(_ other: ConfusionMatrix) {
        precondition(other.classCount == classCount, "cannot merge matrices of different class counts")
        for i in counts.indices { counts[i] += other.counts[i] }
    }

    /// The count of examples of class `label` predicted as `predicted`.
    public subscript(label: Int, predicted: Int) -> Int {
        counts[label * classCount + predicted]
    }

    /// The number of recorded examples.
    public var total: Int { counts.reduce(0, +) }

    /// The number of correct predictions.
    public var correct: Int { (0..<classCount).reduce(0) { $0 + self[$1, $1] } }

    /// The fraction of correct predictions, 0 when empty.
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }

    /// Examples per true class (row sums).
    public var support: [Int] { (0..<classCount).map { row in (0..<classCount).reduce(0) { $0 + self[row, $1] } } }

    /// Examples per predicted class (column sums).
    public var predictedCounts: [Int] {
        (0..<classCount).map { column in (0..<classCount).reduce(0) { $0 + self[$1, column] } }
    }

    /// A text table: rows are true classes, columns predicted classes.
    ///
    /// Column headers are class names shortened to `headerWidth` characters, or class indices
    /// when shortening would make two headers equal.
    /// - Parameters:
    ///   - classNames: One name per class; indices are used when empty.
    ///   - headerWidth: The longest column header.
    public func text(classNames: [String] = [], headerWidth: Int = 5) -> String {
        let names = classNames.count == classCount ? classNames : (0..<classCount).map(String.init)
        var headers = names.map { String($0.prefix(max(1, headerWidth))) }
        if Set(headers).count != headers.count { headers = (0..<classCount).map(String.init) }
        let countWidth = String(counts.max() ?? 0).count
        let columnWidth = max(countWidth, headers.map(\.count).max() ?? 1)
        let corner = "true \\ predicted"
        let rowWidth = max(corner.count, names.map(\.count).max() ?? 0)

        func pad(_ text: String, _ width: Int, left: Bool) -> String {
            let padding = String(repeating: " ", count: max(0, width - text.count))
            return left ? padding + text : text + padding
        }
        var lines = [pad(corner, rowWidth, left: false) + headers.map { " " + pad($0, columnWidth, left: true) }.joined()]
        for row in 0..<classCount {
            lines.append(pad(names[row], rowWidth, left: false)
                + (0..<classCount).map { " " + pad(String(self[row, $0]), columnWidth, left: true) }.joined())
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
