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
            let file = try SafeTensors.read(contentsOf: input)
            guard let entry = file.tensors["input"] else {
                throw ValidationError("\(input): no tensor named \"input\" (keys: \(file.tensors.keys.sorted().joined(separator: ", ")))")
            }
            var x = try Tensor(entry: entry).cast(to: .float32)
            guard x.rank == 4 else { throw ValidationError("\(input): \"input\" must be [N, C, H, W], got \(x.shape)") }
            let net = try ModelZoo.make(model, classCount: classCount, inputChannels: x.shape[1])
            try net.loadWeights(from: weights, strict: true)
            net.eval()
            if grad { x = x.requiringGrad() }
            let y = try net(x)
            var out: [String: SafeTensorsEntry] = ["output": y.safeTensorsEntry()]
            if grad {
                y.sum().backward()
                if let g = x.grad { out["input.grad"] = g.safeTensorsEntry() }
                for (key, p) in net.namedParameters() {
                    if let g = p.grad { out["\(key).grad"] = g.safeTensorsEntry() }
                }
            }
            try SafeTensors.write(out, to: output)
            print("wrote \(output): output \(y.shape)" + (grad ? " and \(out.count - 1) gradients" : ""))
        }
    }
}
