import ArgumentParser
import Tarsier
import Foundation

struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run a model in eval mode on a stored tensor, for parity checks with PyTorch.",
        discussion: """
        Reads the tensor "input" from --input, writes "output" to --output. With --grad, also writes the \
        gradients of sum(output) for the input ("input.grad") and every parameter ("<key>.grad").
        """)

    @Option(help: "Model: \(ModelZoo.names.joined(separator: ", ")).") var model: String
    @Option(help: "Weights (safetensors, PyTorch state_dict names).") var weights: String
    @Option(help: "Safetensors file holding the key \"input\".") var input: String
    @Option(help: "Safetensors file to write.") var output: String
    @Option(name: .customLong("classes"), help: "Number of classes of the model's head.") var classCount: Int = 10
    @Flag(help: "Also write gradients of sum(output).") var grad = false
    @Option(help: "CPU threads.") var threads = 2

    func run() throws {
        runReportingErrors {
            configureThreads(threads)
            let out = try ForwardRunner.run(model: model, classCount: classCount, weights: weights, inputFile: input,
                                            gradients: grad)
            try SafeTensors.write(out, to: output)
            print("wrote \(output): output \(out["output"]?.shape ?? [])" + (grad ? " and \(out.count - 1) gradients" : ""))
        }
    }
}
