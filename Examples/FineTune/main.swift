// The README's folder-and-fine-tuning example as a program:
//   swift run -c release example-finetune PHOTOS_TRAIN_FOLDER RESNET18.pth
import Foundation
import Tarsier

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    print("usage: example-finetune TRAIN_FOLDER RESNET18_WEIGHTS.pth")
    exit(2)
}
let (root, weights) = (arguments[1], arguments[2])
do {
    CPUBackend.setThreadCount(2)
    RandomState.seed(0)
    let files = try ImageFolder.load(root: root)                       // classes = sorted subfolders
    let pipeline = TransformPipeline([try RandomResizedCrop(224), try RandomHorizontalFlip(p: 0.5)],
                                     planar: [Normalize.imageNet])
    let loader = ImageFileLoader(dataset: files, transforms: pipeline, batchSize: 32, seed: 0, workers: 2)

    let net = ResNet(depth: .resNet18, classCount: files.classNames.count)
    try net.loadPretrainedBackbone(try TorchStateDict.read(contentsOf: weights), file: weights)
    try net.freeze(upToStage: "layer3")                                // fine-tune layer4 and the new fc
    let sgd = SGD(groups: FineTuning.parameterGroups(net, learningRate: 0.01, backboneScale: 0.1, weightDecay: 1e-4),
                  learningRate: 0.01, momentum: 0.9)
    let batches = loader.batches(epoch: 0)                             // same batches for any thread count
    while let batch = try batches.next() {
        let loss = try Loss.crossEntropy(net(Tensor(shape: batch.shape, data: batch.images)), labels: batch.labels)
        sgd.zeroGrad(); loss.backward(); sgd.step()
        print("loss \(loss.item())")
    }
    print("skipped: \(batches.skippedFiles)")                          // unreadable files, left out
} catch {
    print("error: \(error)")
    exit(1)
}
