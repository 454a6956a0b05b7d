// A complete training program on Tarsier's library API: data, model, loop, evaluation.
// Run with `swift run -c release example-lenet`.
import Tarsier

CPUBackend.setThreadCount(2)
RandomState.seed(0)
let train = try FashionMNIST.load(split: .train)
let test = try FashionMNIST.load(split: .test)

let model = LeNet.make(classCount: 10)
let optimizer = SGD(parameters: model.parameters(), learningRate: 0.05, momentum: 0.9, weightDecay: 5e-4)

for epoch in 0..<3 {
    var loader = InMemoryBatchLoader(dataset: train, batchSize: 128, seed: 0, dropLast: true)
    loader.epoch = epoch  // a new shuffle each epoch, reproducible from the seed
    model.train()
    for batch in loader {
        let images = Tensor(shape: batch.shape, data: batch.images)  // [128, 1, 28, 28], normalised
        let loss = try Loss.crossEntropy(model(images), labels: batch.labels)
        optimizer.zeroGrad()
        loss.backward()
        optimizer.step()
    }
    let result = try Evaluator.evaluate(model, on: test, mean: [FashionMNIST.mean], std: [FashionMNIST.std])
    print("epoch \(epoch + 1): test accuracy \(result.accuracy)")
}
try model.saveWeights(to: "lenet5.safetensors")
