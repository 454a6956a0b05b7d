import TarsierSupport

/// Metrics computed from rows of class scores (logits or probabilities).
public enum ScoreMetrics {
    /// The highest-scoring class of each row (the first on ties, a NaN wins as in NumPy).
    /// - Parameters:
    ///   - scores: Row-major `N x classCount` scores.
    ///   - classCount: Scores per row.
    public static func argmax(scores: [Float], classCount: Int) -> [Int] {
        precondition(classCount > 0 && scores.count % classCount == 0,
                     "\(scores.count) scores do not form rows of \(classCount)")
        return scores.withUnsafeBufferPointer { s in
            (0..<(s.count / classCount)).map { row in
                let base = row * classCount
                var best = 0
                for c in 0..<classCount {
                    let value = s[base + c]
                    if value.isNaN { return c }
                    if value > s[base + best] { best = c }
                }
                return best
            }
        }
    }

    /// The fraction of rows whose label is among the `k` highest scores.
    ///
    /// Ties rank the higher class index first, as scikit-learn's `top_k_accuracy_score`.
    /// - Parameters:
    ///   - scores: Row-major `N x classCount` scores.
    ///   - classCount: Scores per row.
    ///   - labels: The true class of each row.
    ///   - k: How many top classes count as a hit.
    public static func topKAccuracy(scores: [Float], classCount: Int, labels: [Int], k: Int) -> Double {
        precondition(classCount > 0 && scores.count == labels.count * classCount,
                     "\(scores.count) scores do not form \(labels.count) rows of \(classCount)")
        precondition(k > 0, "k must be positive")
        guard !labels.isEmpty else { return 0 }
        var hits = 0
        scores.withUnsafeBufferPointer { s in
            for (row, label) in labels.enumerated() {
                precondition(label >= 0 && label < classCount, "label \(label) is outside 0..<\(classCount)")
                let base = row * classCount
                let target = s[base + label]
                var ahead = 0
                for c in 0..<classCount where c != label {
                    let value = s[base + c]
                    if value > target || (value == target && c > label) { ahead += 1 }
                }
                if ahead < k { hits += 1 }
            }
        }
        return Double(hits) / Double(labels.count)
    }
}

/// Writes per-example predictions as CSV with the header `index,label,predicted`.
public enum PredictionsCSV {
    /// The CSV text.
    /// - Parameters:
    ///   - labels: The true classes.
    ///   - predictions: The predicted classes, same count.
    ///   - indices: The dataset index of each row; `0..<count` when nil.
    public static func encode(labels: [Int], predictions: [Int], indices: [Int]? = nil) -> String {
        precondition(labels.count == predictions.count, "\(labels.count) labels but \(predictions.count) predictions")
        precondition(indices.map { $0.count == labels.count } ?? true, "indices must match labels in count")
        var text = "index,label,predicted\n"
        text.reserveCapacity(24 + labels.count * 12)
        for i in labels.indices {
            text += "\(indices?[i] ?? i),\(labels[i]),\(predictions[i])\n"
        }
        return text
    }

    /// Writes the CSV atomically to `path`.
    public static func write(labels: [Int], predictions: [Int], indices: [Int]? = nil, to path: String) throws {
        try AtomicFile.write(encode(labels: labels, predictions: predictions, indices: indices), to: path)
    }
}
