import TarsierCore
import TarsierNN

/// Counts a model's forward-pass work.
public enum ModelCost {
    /// Floating-point operations (2 × multiply-adds of convolutions and matrix products; element-wise
    /// work not counted) of one forward pass in evaluation mode without autodiff, on a batch of
    /// `batch` zero images of `inputShape` [C, H, W]. The model's training mode is restored after.
    public static func forwardFlops(_ model: Module, inputShape: [Int], batch: Int = 1) throws -> Int {
        let counter = FlopCountingBackend(wrapping: Device.cpu.backend)
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        let x = Tensor(zeros: [batch] + inputShape, device: Device(backend: counter))
        _ = try Autograd.withNoGrad { try model(x) }
        return counter.flops
    }
}
