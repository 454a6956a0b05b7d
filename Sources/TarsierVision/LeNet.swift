import TarsierCore
import TarsierNN

/// LeNet-5 for 28x28 single-channel input, as a `Sequential` with PyTorch's keys (`0.weight`, …).
public enum LeNet {
    /// Conv(1→6, 5, pad 2)–ReLU–MaxPool–Conv(6→16, 5)–ReLU–MaxPool–Flatten–FC 400→120→84→classes.
    public static func make(classCount: Int = 10, inputChannels: Int = 1) -> Sequential {
        Sequential(
            Conv2d(inputChannels: inputChannels, outputChannels: 6, kernelSize: 5, padding: 2), ReLU(),
            MaxPool2d(kernelSize: 2),
            Conv2d(inputChannels: 6, outputChannels: 16, kernelSize: 5), ReLU(), MaxPool2d(kernelSize: 2),
            Flatten(),
            Linear(inputFeatures: 16 * 5 * 5, outputFeatures: 120), ReLU(),
            Linear(inputFeatures: 120, outputFeatures: 84), ReLU(),
            Linear(inputFeatures: 84, outputFeatures: classCount))
    }
}
