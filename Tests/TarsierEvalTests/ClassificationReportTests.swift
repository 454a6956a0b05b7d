import Foundation
import XCTest
@testable import TarsierEval

final class ClassificationReportTests: XCTestCase {
    // Hand-computed case: labels [0,0,1,1,2,2,2], predictions [0,1,1,1,2,0,0].
    //   class 0: tp 1, predicted 3, support 2 -> P 1/3, R 1/2, F1 2/(2+3) = 0.4
    //   class 1: tp 2, predicted 3, support 2 -> P 2/3, R 1,   F1 4/(2+3) = 0.8
    //   class 2: tp 1, predicted 1, support 3 -> P 1,   R 1/3, F1 2/(3+1) = 0.5
    //   accuracy 4/7; macro P 2/3, R 11/18, F1 1.7/3; weighted P 5/7, R 4/7, F1 3.9/7
    func testHandComputedSmallCase() {
        let report = ClassificationReport(labels: [0, 0, 1, 1, 2, 2, 2], predictions: [0, 1, 1, 1, 2, 0, 0],
                                          classNames: ["a", "b", "c"])
        let expected: [(Double, Double, Double, Int)] = [(1.0 / 3, 0.5, 0.4, 2), (2.0 / 3, 1, 0.8, 2), (1, 1.0 / 3, 0.5, 3)]
        for (row, e) in zip(report.classes, expected) {
            XCTAssertEqual(row.precision, e.0, accuracy: 1e-12)
            XCTAssertEqual(row.recall, e.1, accuracy: 1e-12)
            XCTAssertEqual(row.f1Score, e.2, accuracy: 1e-12)
            XCTAssertEqual(row.support, e.3)
        }
        XCTAssertEqual(report.accuracy, 4.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(report.macroAverage.precision, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(report.macroAverage.recall, 11.0 / 18, accuracy: 1e-12)
        XCTAssertEqual(report.macroAverage.f1Score, 1.7 / 3, accuracy: 1e-12)
        XCTAssertEqual(report.weightedAverage.precision, 5.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(report.weightedAverage.recall, 4.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(report.weightedAverage.f1Score, 3.9 / 7, accuracy: 1e-12)
        XCTAssertEqual(report.macroAverage.support, 7)
        // scikit-learn 1.9.1: classification_report([0,0,1,1,2,2,2], [0,1,1,1,2,0,0], target_names=["a","b","c"])
        XCTAssertEqual(report.text(digits: 2), """
                          precision    recall  f1-score   support

                       a       0.33      0.50      0.40         2
                       b       0.67      1.00      0.80         2
                       c       1.00      0.33      0.50         3

                accuracy                           0.57         7
               macro avg       0.67      0.61      0.57         7
            weighted avg       0.71      0.57      0.56         7

            """)
    }

    // Generated with scikit-learn 1.9.1 / NumPy 2.4.6:
    //   rng = np.random.default_rng(7); n = 90
    //   y = rng.integers(0, 7, n)                      # classes 7, 8, 9 never true
    //   p = np.where(rng.random(n) < 0.6, y, rng.integers(0, 10, n)); p[p == 8] = 0  # 8 never predicted
    //   classification_report(y, p, labels=range(10), target_names=names, digits=4, zero_division=0)
    //   classification_report(..., output_dict=True)   # printed with repr()
    static let labels = [6, 4, 4, 6, 4, 5, 5, 1, 0, 2, 1, 6, 6, 0, 3, 5, 0, 5, 0, 3, 5, 2, 2, 1, 5, 1, 6, 3, 3, 3,
                         4, 3, 3, 6, 5, 5, 4, 4, 2, 6, 3, 1, 5, 1, 6, 4, 0, 0, 3, 0, 0, 3, 6, 3, 5, 6, 5, 4, 3, 3,
                         1, 3, 2, 1, 6, 0, 0, 1, 6, 4, 6, 1, 5, 2, 3, 0, 4, 5, 4, 1, 3, 1, 6, 6, 1, 3, 6, 5, 4, 4]
    static let predictions = [2, 4, 4, 6, 1, 5, 5, 1, 0, 2, 1, 7, 6, 5, 3, 4, 9, 0, 0, 3, 5, 2, 2, 0, 5, 4, 6, 5, 5, 3,
                              7, 2, 7, 6, 5, 5, 3, 4, 2, 6, 9, 1, 5, 1, 6, 4, 7, 0, 3, 0, 4, 3, 6, 3, 5, 0, 5, 4, 3, 6,
                              1, 3, 1, 1, 6, 6, 3, 1, 1, 4, 7, 4, 5, 2, 4, 0, 0, 1, 4, 0, 3, 1, 6, 6, 1, 0, 6, 5, 4, 1]
    static let names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                        "Ankle boot"]
    static let sklearnText = """
                      precision    recall  f1-score   support

         T-shirt/top     0.4545    0.4545    0.4545        11
             Trouser     0.6429    0.6923    0.6667        13
            Pullover     0.7143    0.8333    0.7692         6
               Dress     0.8182    0.5294    0.6429        17
                Coat     0.6154    0.6154    0.6154        13
              Sandal     0.7857    0.7857    0.7857        14
               Shirt     0.8462    0.6875    0.7586        16
             Sneaker     0.0000    0.0000    0.0000         0
                 Bag     0.0000    0.0000    0.0000         0
          Ankle boot     0.0000    0.0000    0.0000         0

            accuracy                         0.6444        90
           macro avg     0.4877    0.4598    0.4693        90
        weighted avg     0.7121    0.6444    0.6705        90

        """
    // (precision, recall, f1-score, support) as repr() printed them.
    static let sklearnRows: [(Double, Double, Double, Int)] = [
        (0.45454545454545453, 0.45454545454545453, 0.45454545454545453, 11),
        (0.6428571428571429, 0.6923076923076923, 0.6666666666666666, 13),
        (0.7142857142857143, 0.8333333333333334, 0.7692307692307693, 6),
        (0.8181818181818182, 0.5294117647058824, 0.6428571428571429, 17),
        (0.6153846153846154, 0.6153846153846154, 0.6153846153846154, 13),
        (0.7857142857142857, 0.7857142857142857, 0.7857142857142857, 14),
        (0.8461538461538461, 0.6875, 0.7586206896551724, 16),
        (0, 0, 0, 0), (0, 0, 0, 0), (0, 0, 0, 0),
    ]
    static let sklearnAccuracy = 0.6444444444444445
    static let sklearnMacro = (0.48771228771228775, 0.4598197145991264, 0.46930196240541067)
    static let sklearnWeighted = (0.7121156621156621, 0.6444444444444445, 0.6705394860567273)

    func testMatchesScikitLearnExactly() {
        let report = ClassificationReport(labels: Self.labels, predictions: Self.predictions, classNames: Self.names)
        XCTAssertEqual(report.text(), Self.sklearnText)
        for (row, e) in zip(report.classes, Self.sklearnRows) {
            XCTAssertEqual(row.precision, e.0, row.name)
            XCTAssertEqual(row.recall, e.1, row.name)
            XCTAssertEqual(row.f1Score, e.2, row.name)
            XCTAssertEqual(row.support, e.3, row.name)
        }
        XCTAssertEqual(report.accuracy, Self.sklearnAccuracy)
        XCTAssertEqual(report.macroAverage.precision, Self.sklearnMacro.0)
        XCTAssertEqual(report.macroAverage.recall, Self.sklearnMacro.1)
        XCTAssertEqual(report.macroAverage.f1Score, Self.sklearnMacro.2)
        XCTAssertEqual(report.weightedAverage.precision, Self.sklearnWeighted.0)
        XCTAssertEqual(report.weightedAverage.recall, Self.sklearnWeighted.1)
        XCTAssertEqual(report.weightedAverage.f1Score, Self.sklearnWeighted.2)
    }

    func testPairwiseSumMatchesNumPy() {
        // NumPy 2.4.6: np.sum(np.array([1e16, 1.0, -1e16] + [1.0] * 9)) == 8.0 (a naive loop gives 9.0);
        // np.sum(np.array([0.1] * 200 + [1e8] + [0.3] * 37)) == 100000031.09999996 (naive: ...89).
        XCTAssertEqual(pairwiseSum([1e16, 1.0, -1e16] + [Double](repeating: 1, count: 9)), 8.0)
        let mixed = [Double](repeating: 0.1, count: 200) + [1e8] + [Double](repeating: 0.3, count: 37)
        XCTAssertEqual(pairwiseSum(mixed), 100000031.09999996)
        XCTAssertEqual(pairwiseSum([]), 0)
        XCTAssertEqual(pairwiseSum((0..<1000).map(Double.init)), 499_500)
    }

    func testJSONRoundTripAndFiles() throws {
        let report = ClassificationReport(labels: Self.labels, predictions: Self.predictions, classNames: Self.names)
        let json = try report.json()
        XCTAssertTrue(json.contains("\"macro avg\""))
        XCTAssertTrue(json.contains("\"f1-score\""))
        XCTAssertTrue(json.contains("\"T-shirt/top\""))
        XCTAssertEqual(try JSONDecoder().decode(ClassificationReport.self, from: Data(json.utf8)), report)

        let directory = NSTemporaryDirectory() + "tarsier-report-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try report.write(textTo: directory + "/report.txt", jsonTo: directory + "/report.json")
        XCTAssertEqual(try String(contentsOfFile: directory + "/report.txt", encoding: .utf8), Self.sklearnText)
        XCTAssertEqual(try String(contentsOfFile: directory + "/report.json", encoding: .utf8), json)

        try PredictionsCSV.write(labels: [3, 1], predictions: [3, 2], indices: [10, 4],
                                 to: directory + "/predictions.csv")
        XCTAssertEqual(try String(contentsOfFile: directory + "/predictions.csv", encoding: .utf8),
                       "index,label,predicted\n10,3,3\n4,1,2\n")
        XCTAssertEqual(PredictionsCSV.encode(labels: [0], predictions: [1]), "index,label,predicted\n0,0,1\n")
    }

    func testEmptyInputIsAllZero() {
        let report = ClassificationReport(labels: [], predictions: [], classNames: ["a", "b"])
        XCTAssertEqual(report.accuracy, 0)
        XCTAssertEqual(report.weightedAverage.f1Score, 0)
        XCTAssertEqual(report.macroAverage.support, 0)
    }
}

final class ConfusionMatrixTests: XCTestCase {
    func testCountsAndText() {
        var matrix = ConfusionMatrix(classCount: 3)
        matrix.add(labels: [0, 0, 1, 1, 2, 2, 2], predictions: [0, 1, 1, 1, 2, 0, 0])
        XCTAssertEqual(matrix[2, 0], 2)
        XCTAssertEqual(matrix[1, 1], 2)
        XCTAssertEqual(matrix.total, 7)
        XCTAssertEqual(matrix.correct, 4)
        XCTAssertEqual(matrix.support, [2, 2, 3])
        XCTAssertEqual(matrix.predictedCounts, [3, 3, 1])
        var other = ConfusionMatrix(classCount: 3)
        other.add(label: 2, predicted: 2)
        matrix.merge(other)
        XCTAssertEqual(matrix[2, 2], 2)
        XCTAssertEqual(matrix.text(classNames: ["T-shirt/top", "Trouser", "Pullover"]), """
            true \\ predicted T-shi Trous Pullo
            T-shirt/top          1     1     0
            Trouser              0     2     0
            Pullover             2     0     2

            """)
        // Shortened names that collide fall back to indices.
        XCTAssertTrue(matrix.text(classNames: ["Sandal", "Sandals", "Shirt"]).hasPrefix("true \\ predicted 0 1 2\n"))
    }
}

final class ScoreMetricsTests: XCTestCase {
    // Generated with scikit-learn 1.9.1:
    //   rng = np.random.default_rng(7) (continuing after the report case above)
    //   s = np.round(rng.standard_normal((12, 5)), 1).astype(np.float32); s[3, :] = 0.5; s[4, 1] = s[4, 3]
    //   lab = rng.integers(0, 5, 12); lab[3] = 2; lab[4] = 1
    //   [top_k_accuracy_score(lab, s, k=k, labels=range(5)) for k in (1, 2, 3)]
    static let scores: [Float] = [
        -0.5, 0.3, -0.0, -0.4, -0.5, 0.6, -0.3, -0.2, 0.0, 1.2, 0.7, 0.4, -0.6, -1.4, 0.9,
        0.5, 0.5, 0.5, 0.5, 0.5, 0.9, -1.2, 1.5, -1.2, 0.9, 0.5, 0.9, 1.9, 1.5, -1.1,
        -1.7, 0.8, -1.0, -0.0, 0.8, -1.6, -2.1, 0.3, 0.0, -0.2, 0.0, -0.9, -1.5, -0.2, -1.0,
        -1.6, 0.5, -0.1, 0.4, -1.0, -0.7, -1.0, -0.9, 0.2, -0.8, 0.4, 0.3, 2.0, -1.4, 0.9,
    ]
    static let labels = [4, 1, 0, 2, 1, 2, 4, 3, 2, 0, 2, 1]

    func testTopKMatchesScikitLearn() {
        XCTAssertEqual(ScoreMetrics.topKAccuracy(scores: Self.scores, classCount: 5, labels: Self.labels, k: 1),
                       0.16666666666666666)
        XCTAssertEqual(ScoreMetrics.topKAccuracy(scores: Self.scores, classCount: 5, labels: Self.labels, k: 2),
                       0.3333333333333333)
        XCTAssertEqual(ScoreMetrics.topKAccuracy(scores: Self.scores, classCount: 5, labels: Self.labels, k: 3),
                       0.4166666666666667)
        XCTAssertEqual(ScoreMetrics.topKAccuracy(scores: Self.scores, classCount: 5, labels: Self.labels, k: 5), 1)
    }

    func testArgmax() {
        XCTAssertEqual(ScoreMetrics.argmax(scores: [0, 2, 2, 1, -1, -3, 5, .nan, 7], classCount: 3), [1, 0, 1])
        // Top-1 accuracy agrees with argmax accuracy when there are no ties.
        let predicted = ScoreMetrics.argmax(scores: Self.scores, classCount: 5)
        XCTAssertEqual(predicted[0], 1)
    }
}

final class ProgressBarTests: XCTestCase {
    func testLogModePrintsEveryTenPercent() {
        var lines: [String] = []
        var now = 0.0
        let bar = ProgressBar(totalSteps: 200, epoch: 2, epochCount: 5, isTerminal: false,
                              output: { lines.append($0) }, clock: { now })
        for step in 1...200 {
            now = Double(step) * 0.01
            bar.update(step: step, images: step * 64, loss: 1.0 / Double(step), accuracy: 0.5)
        }
        bar.finish()
        XCTAssertEqual(lines.count, 10)
        XCTAssertTrue(lines.allSatisfy { $0.hasSuffix("\n") && !$0.contains("\r") })
        XCTAssertEqual(lines[0], "epoch 2/5 [==>                 ]  20/200 loss 0.0500 acc 50.00% 6400 img/s ETA 0:02\n")
        XCTAssertTrue(lines[9].hasPrefix("epoch 2/5 [====================] 200/200"), lines[9])
        XCTAssertTrue(lines[9].contains("in 0:02"), lines[9])
    }

    func testTerminalModeRedrawsInPlace() {
        var output = ""
        var now = 0.0
        let bar = ProgressBar(totalSteps: 10, isTerminal: true, output: { output += $0 }, clock: { now })
        for step in 1...10 {
            now = Double(step) * 0.0625   // exact in binary: draws at steps 1, 3, 5, 7, 9 and 10
            bar.update(step: step, loss: 0.25)
        }
        bar.finish()
        bar.update(step: 3)
        XCTAssertEqual(output.filter { $0 == "\r" }.count, 7)   // throttled to 0.1 s, plus the last and finish
        XCTAssertEqual(output.filter { $0 == "\n" }.count, 1)
        XCTAssertTrue(output.hasSuffix("[====================] 10/10 loss 0.2500 in 0:01\n"), output)
    }

    func testDurationFormat() {
        XCTAssertEqual(ProgressBar.formatDuration(5), "0:05")
        XCTAssertEqual(ProgressBar.formatDuration(754), "12:34")
        XCTAssertEqual(ProgressBar.formatDuration(3725), "1:02:05")
        XCTAssertEqual(ProgressBar.formatDuration(.infinity), "?")
    }
}
