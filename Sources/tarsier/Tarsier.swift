import ArgumentParser
import Tarsier
import Foundation

@main
struct TarsierCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tarsier",
        abstract: "Train, evaluate and run convolutional networks for computer vision.",
        subcommands: [TrainCommand.self, FinetuneCommand.self, EvalCommand.self, FeaturesCommand.self, DataCommand.self, ForwardCommand.self, ModelsCommand.self, BenchCommand.self])
}

/// Prints a user error on one line and exits non-zero, without a stack trace.
func fail(_ error: Error) -> Never {
    // Errors describe themselves in one line (CustomStringConvertible), never with a stack trace.
    let message = String(describing: error)
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(1)
}

/// Runs `body`, turning thrown errors into one-line messages.
func runReportingErrors(_ body: () throws -> Void) {
    do { try body() } catch let error as CleanExit { TarsierCommand.exit(withError: error) }
    catch let error as ExitCode { TarsierCommand.exit(withError: error) }
    catch { fail(error) }
}

/// Sets oneDNN/OpenMP threads before the first kernel runs.
func configureThreads(_ threads: Int) {
    CPUBackend.setThreadCount(threads)
}
