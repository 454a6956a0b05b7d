import Foundation
import TarsierSupport

/// Per-class precision, recall, F1 and support with accuracy and averages, computed as
/// scikit-learn's `classification_report(labels=range(n), zero_division=0)`.
///
/// Undefined ratios (no predictions or no examples of a class) count as 0; sums use NumPy's
/// pairwise summation, so the numbers match scikit-learn's to the last bit.
public struct ClassificationReport: Codable, Equatable, Sendable {
    /// One row of the report.
    public struct Row: Codable, Equatable, Sendable {
        /// The class name, or `macro avg` / `weighted avg`.
        public var name: String
        /// tp / (tp + fp).
        public var precision: Double
        /// tp / (tp + fn).
        public var recall: Double
        /// 2 tp / (2 tp + fp + fn).
        public var f1Score: Double
        /// The number of examples of the class (all examples for averages).
        public var support: Int

        enum CodingKeys: String, CodingKey {
            case name, precision, recall, f1Score = "f1-score", support
        }

        /// Creates a row.
        public init(name: String, precision: Double, recall: Double, f1Score: Double, support: Int) {
            self.name = name
            self.precision = precision
            self.recall = recall
            self.f1Score = f1Score
            self.support = support
        }
    }

    /// One row per class, in label order.
    public var classes: [Row]
    /// The fraction of correct predictions.
    public var accuracy: Double
    /// The unweighted mean of the per-class rows.
    public var macroAverage: Row
    /// The support-weighted mean of the per-class rows.
    public var weightedAverage: Row

    enum CodingKeys: String, CodingKey {
        case classes, accuracy, macroAverage = "macro avg", weightedAverage = "weighted avg"
    }

    /// Computes the report of paired labels and predictions.
    /// - Parameters:
    ///   - labels: True classes, each in `0..<classNames.count`.
    ///   - predictions: Predicted classes, same count and range.
    ///   - classNames: The name of each class; its count fixes the classes reported.
    public init(labels: [Int], predictions: [Int], classNames: [String]) {
        self.init(confusionMatrix: ConfusionMatrix(classCount: classNames.count, labels: labels,
                                                   predictions: predictions),
                  classNames: classNames)
    }

    /// Computes the report of a confusion matrix.
    public init(confusionMatrix matrix: ConfusionMatrix, classNames: [String]) {
        precondition(classNames.count == matrix.classCount,
                     "\(classNames.count) class names for \(matrix.classCount) classes")
        let support = matrix.support
        let predicted = matrix.predictedCounts
        func ratio(_ numerator: Double, _ denominator: Double) -> Double {
            denominator == 0 ? 0 : numerator / denominator
        }
        classes = (0..<matrix.classCount).map { c in
            let tp = Double(matrix[c, c])
            return Row(name: classNames[c], precision: ratio(tp, Double(predicted[c])),
                       recall: ratio(tp, Double(support[c])),
                       f1Score: ratio(2 * tp, Double(support[c]) + Double(predicted[c])), support: support[c])
        }
        let total = matrix.total
        accuracy = ratio(Double(matrix.correct), Double(total))

        let precisions = classes.map(\.precision), recalls = classes.map(\.recall), f1s = classes.map(\.f1Score)
        let n = Double(classes.count)
        macroAverage = Row(name: "macro avg", precision: pairwiseSum(precisions) / n,
                           recall: pairwiseSum(recalls) / n, f1Score: pairwiseSum(f1s) / n, support: total)
        let weights = support.map(Double.init)
        let weightSum = pairwiseSum(weights)
        func weighted(_ values: [Double]) -> Double {
            // NumPy's average falls back to the plain mean when all weights are zero.
            weightSum == 0 ? pairwiseSum(values) / n : pairwiseSum(zip(values, weights).map(*)) / weightSum
        }
        weightedAverage = Row(name: "weighted avg", precision: weighted(precisions), recall: weighted(recalls),
                              f1Score: weighted(f1s), support: total)
    }

    /// The report in scikit-learn's text layout.
    /// - Parameter digits: Digits after the decimal point (scikit-learn's default is 2; Tarsier uses 4).
    public func text(digits: Int = 4) -> String {
        // Python pads by code points, so widths count unicode scalars.
        func width(_ s: String) -> Int { s.unicodeScalars.count }
        func right(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - width(s))) + s }
        func number(_ x: Double) -> String { right(String(format: "%.\(digits)f", x), 9) }

        let nameWidth = max(classes.map { width($0.name) }.max() ?? 0, width("weighted avg"), digits)
        var report = right("", nameWidth) + " "
            + ["precision", "recall", "f1-score", "support"].map { " " + right($0, 9) }.joined() + "\n\n"
        func line(_ row: Row) -> String {
            right(row.name, nameWidth) + " " + " " + number(row.precision) + " " + number(row.recall)
                + " " + number(row.f1Score) + " " + right(String(row.support), 9) + "\n"
        }
        for row in classes { report += line(row) }
        report += "\n"
        report += right("accuracy", nameWidth) + " " + " " + right("", 9) + " " + right("", 9)
            + " " + number(accuracy) + " " + right(String(macroAverage.support), 9) + "\n"
        report += line(macroAverage)
        report += line(weightedAverage)
        return report
    }

    /// The report as pretty-printed JSON (keys `classes`, `accuracy`, `macro avg`, `weighted avg`).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// Writes the text and/or JSON forms atomically.
    /// - Parameters:
    ///   - textPath: Where to write `text(digits:)`, or nil.
    ///   - jsonPath: Where to write `json()`, or nil.
    ///   - digits: Digits in the text form.
    public func write(textTo textPath: String? = nil, jsonTo jsonPath: String? = nil, digits: Int = 4) throws {
        if let textPath { try AtomicFile.write(text(digits: digits), to: textPath) }
        if let jsonPath { try AtomicFile.write(json(), to: jsonPath) }
    }
}

/// NumPy's pairwise summation of float64 (`np.sum`), reproduced bit for bit.
func pairwiseSum(_ values: [Double]) -> Double {
    values.withUnsafeBufferPointer { pairwiseSum($0) }
}

private func pairwiseSum(_ a: UnsafeBufferPointer<Double>) -> Double {
    let n = a.count
    if n < 8 {
        var sum = 0.0
        for x in a { sum += x }
        return sum
    }
    if n <= 128 {
        var r = Array(a[0..<8])
        var i = 8
        while i < n - n % 8 {
            for j in 0..<8 { r[j] += a[i + j] }
            i += 8
        }
        var sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n {
            sum += a[i]
            i += 1
        }
        return sum
    }
    var half = n / 2
    half -= half % 8
    return pairwiseSum(UnsafeBufferPointer(rebasing: a[0..<half]))
        + pairwiseSum(UnsafeBufferPointer(rebasing: a[half..<n]))
}
