#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Training progress on one terminal line.
///
/// On a terminal the line is redrawn in place (`\r`) at most ten times a second; otherwise
/// (a log file, a pipe) a full line is printed each time another `reportEveryPercent` of the
/// steps is done, so logs stay short.
public final class ProgressBar {
    /// Steps in the epoch.
    public let totalSteps: Int
    /// The 1-based epoch shown, if any.
    public var epoch: Int?
    /// The number of epochs shown after the epoch, if any.
    public var epochCount: Int?
    /// Whether lines are redrawn in place.
    public let isTerminal: Bool
    /// Percent of the steps between printed lines when not on a terminal.
    public let reportEveryPercent: Int

    private let barWidth: Int
    private let output: (String) -> Void
    private let clock: () -> Double
    private let start: Double
    private var lastDraw = -Double.infinity
    private var nextPercent: Int
    private var lastLineLength = 0
    private var finished = false
    private var last: (step: Int, images: Int?, loss: Double?, accuracy: Double?)?

    /// Creates a progress bar; the clock starts now.
    /// - Parameters:
    ///   - totalSteps: Steps in the epoch.
    ///   - epoch: The 1-based epoch to show.
    ///   - epochCount: The number of epochs to show.
    ///   - isTerminal: Redraw in place; defaults to whether standard output is a terminal.
    ///   - reportEveryPercent: Progress between printed lines when not redrawing.
    ///   - barWidth: Characters inside the bar.
    ///   - output: Receives the text to print; defaults to standard output.
    ///   - clock: Seconds from an arbitrary origin; defaults to a monotonic clock.
    public init(totalSteps: Int, epoch: Int? = nil, epochCount: Int? = nil, isTerminal: Bool? = nil,
                reportEveryPercent: Int = 10, barWidth: Int = 20, output: ((String) -> Void)? = nil,
                clock: (() -> Double)? = nil) {
        precondition(totalSteps >= 0, "totalSteps must not be negative")
        precondition(reportEveryPercent > 0, "reportEveryPercent must be positive")
        self.totalSteps = totalSteps
        self.epoch = epoch
        self.epochCount = epochCount
        self.isTerminal = isTerminal ?? (isatty(STDOUT_FILENO) != 0)
        self.reportEveryPercent = reportEveryPercent
        self.barWidth = barWidth
        self.output = output ?? { text in
            fputs(text, stdout)
            fflush(stdout)
        }
        self.clock = clock ?? { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
        self.start = self.clock()
        self.nextPercent = reportEveryPercent
    }

    /// Reports progress after `step` steps.
    /// - Parameters:
    ///   - step: Steps done so far (1...totalSteps).
    ///   - images: Images processed so far in this epoch, for the images/s figure.
    ///   - loss: The running loss to show.
    ///   - accuracy: The running accuracy in [0, 1] to show.
    public func update(step: Int, images: Int? = nil, loss: Double? = nil, accuracy: Double? = nil) {
        guard !finished else { return }
        last = (step, images, loss, accuracy)
        let now = clock()
        let line = render(step: step, images: images, loss: loss, accuracy: accuracy, now: now)
        if isTerminal {
            guard now - lastDraw >= 0.1 || step >= totalSteps else { return }
            lastDraw = now
            // Pad with spaces over the remains of a longer previous line.
            output("\r" + line + String(repeating: " ", count: max(0, lastLineLength - line.count)))
            lastLineLength = line.count
        } else {
            guard totalSteps > 0 else { return }
            let percent = step * 100 / totalSteps
            guard percent >= nextPercent else { return }
            while nextPercent <= percent { nextPercent += reportEveryPercent }
            output(line + "\n")
        }
    }

    /// Prints the final state and ends the line; later updates are ignored.
    ///
    /// Figures not given repeat those of the last `update`.
    public func finish(step: Int? = nil, images: Int? = nil, loss: Double? = nil, accuracy: Double? = nil) {
        guard !finished else { return }
        let steps = step ?? last?.step ?? totalSteps
        let line = render(step: steps, images: images ?? last?.images, loss: loss ?? last?.loss,
                          accuracy: accuracy ?? last?.accuracy, now: clock())
        if isTerminal {
            output("\r" + line + String(repeating: " ", count: max(0, lastLineLength - line.count)) + "\n")
        } else if nextPercent <= 100 || loss != nil || accuracy != nil {
            output(line + "\n")
        }
        finished = true
    }

    /// The progress line for the given state (without `\r` or newline).
    public func render(step: Int, images: Int?, loss: Double?, accuracy: Double?, now: Double) -> String {
        let elapsed = max(now - start, 0)
        var parts: [String] = []
        if let epoch { parts.append("epoch \(epoch)" + (epochCount.map { "/\($0)" } ?? "")) }
        let fraction = totalSteps > 0 ? min(1, Double(step) / Double(totalSteps)) : 1
        let filled = Int(fraction * Double(barWidth))
        let bar = String(repeating: "=", count: filled)
            + (filled < barWidth ? ">" + String(repeating: " ", count: barWidth - filled - 1) : "")
        let stepWidth = String(totalSteps).count
        parts.append("[\(bar)] " + String(repeating: " ", count: max(0, stepWidth - String(step).count))
            + "\(step)/\(totalSteps)")
        if let loss { parts.append("loss " + String(format: "%.4f", loss)) }
        if let accuracy { parts.append("acc " + String(format: "%.2f%%", accuracy * 100)) }
        if let images, elapsed > 0 { parts.append(String(format: "%.0f img/s", Double(images) / elapsed)) }
        if step > 0 && step < totalSteps && elapsed > 0 {
            parts.append("ETA " + ProgressBar.formatDuration(elapsed / Double(step) * Double(totalSteps - step)))
        } else if step >= totalSteps {
            parts.append("in " + ProgressBar.formatDuration(elapsed))
        }
        return parts.joined(separator: " ")
    }

    /// `m:ss`, or `h:mm:ss` from an hour on.
    public static func formatDuration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0, seconds < 1e9 else { return "?" }
        let total = Int(seconds.rounded())
        let h = total / 3600, m = (total % 3600) / 60, s = total % 60
        let ss = s < 10 ? "0\(s)" : "\(s)"
        if h > 0 { return "\(h):" + (m < 10 ? "0\(m)" : "\(m)") + ":" + ss }
        return "\(m):" + ss
    }
}
