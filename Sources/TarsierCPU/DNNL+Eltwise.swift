import CDNNL

/// Element-wise activation functions oneDNN runs in parallel (on its OpenMP threads, so they
/// do not compete with the threads of the other kernels).
public enum EltwiseFunction: Hashable, Sendable {
    /// max(x, 0), or slope·x for x < 0 when `slope` is not 0 (leaky ReLU).
    case relu(slope: Float)
    /// 1 / (1 + e^-x); its backward pass reads the forward output.
    case sigmoid
    /// tanh(x); its backward pass reads the forward output.
    case tanh
    /// x·Φ(x) with the exact erf.
    case gelu

    var algorithm: dnnl_alg_kind_t {
        switch self {
        case .relu: return dnnl_eltwise_relu
        case .sigmoid: return dnnl_eltwise_logistic_use_dst_for_bwd
        case .tanh: return dnnl_eltwise_tanh_use_dst_for_bwd
        case .gelu: return dnnl_eltwise_gelu_erf
        }
    }

    var alpha: Float {
        if case .relu(let slope) = self { return slope }
        return 0
    }

    /// True when the backward pass takes the forward output instead of the input.
    public var backwardUsesOutput: Bool { self == .sigmoid || self == .tanh }
}

/// Element-wise operations of two same-sized buffers.
public enum BinaryFunction: Hashable, Sendable {
    case add, multiply
    /// `max(a + b, 0)`: the sum with a ReLU post-op, in one pass.
    case addReLU

    var algorithm: dnnl_alg_kind_t { self == .multiply ? dnnl_binary_mul : dnnl_binary_add }
}

/// Cache key of an element-wise plan; buffers are viewed as flat vectors, so layout is irrelevant.
struct EltwiseKey: Hashable {
    enum Pass: Hashable { case forward(EltwiseFunction), backward(EltwiseFunction), binary(BinaryFunction) }
    var pass: Pass
    var count: Int
}

extension DNNL {
    /// `destination[i] = f(source[i])` for `count` elements.
    public static func eltwiseForward(_ function: EltwiseFunction, count: Int, source: UnsafePointer<Float>,
                                      destination: UnsafeMutablePointer<Float>) {
        EltwisePlans.plan(EltwiseKey(pass: .forward(function), count: count))
            .execute([(DNNL_ARG_SRC, raw(source)), (DNNL_ARG_DST, raw(destination))])
    }

    /// `sourceGradient[i] = f'(·) · destinationGradient[i]`, where `saved` is the forward input, or the
    /// forward output when `function.backwardUsesOutput`.
    public static func eltwiseBackward(_ function: EltwiseFunction, count: Int, saved: UnsafePointer<Float>,
                                       destinationGradient: UnsafePointer<Float>,
                                       sourceGradient: UnsafeMutablePointer<Float>) {
        let savedArg = function.backwardUsesOutput ? DNNL_ARG_DST : DNNL_ARG_SRC
        EltwisePlans.plan(EltwiseKey(pass: .backward(function), count: count))
            .execute([(savedArg, raw(saved)), (DNNL_ARG_DIFF_DST, raw(destinationGradient)),
                      (DNNL_ARG_DIFF_SRC, raw(sourceGradient))])
    }

    /// `destination[i] = a[i] ∘ b[i]` for `count` elements.
    public static func binary(_ function: BinaryFunction, count: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                              destination: UnsafeMutablePointer<Float>) {
        EltwisePlans.plan(EltwiseKey(pass: .binary(function), count: count))
            .execute([(DNNL_ARG_SRC_0, raw(a)), (DNNL_ARG_SRC_1, raw(b)), (DNNL_ARG_DST, raw(destination))])
    }
}

/// Builds the cached element-wise plans over flat `[count]` vectors.
enum EltwisePlans {
    static func plan(_ key: EltwiseKey) -> Plan {
        DNNLContext.shared.plan(.eltwise(key)) { make(key) }
    }

    static func forwardDesc(_ function: EltwiseFunction, _ data: dnnl_memory_desc_t) -> dnnl_primitive_desc_t {
        var data = data
        var op = dnnl_eltwise_desc_t()
        dnnlCheck(dnnl_eltwise_forward_desc_init(&op, dnnl_forward_training, function.algorithm, &data,
                                                 function.alpha, 0), "eltwise_forward_desc_init \(function)")
        return DNNLContext.shared.primitiveDesc(&op, "eltwise forward \(function)")
    }

    static func make(_ key: EltwiseKey) -> Plan {
        precondition(key.count > 0, "element-wise kernels need at least one element")
        let context = DNNLContext.shared
        let data = context.desc([key.count], dnnl_a)
        func edge(_ direction: Edge.Direction, _ arg: Int32) -> (arg: Int32, edge: Edge) {
            (arg, Edge(direction, plain: data, "eltwise \(arg)"))
        }
        switch key.pass {
        case .forward(let function):
            let pd = forwardDesc(function, data)
            defer { dnnl_primitive_desc_destroy(pd) }
            return Plan("eltwise forward \(function) [\(context.implementation(pd))]", pd: pd,
                        edges: [edge(.input, DNNL_ARG_SRC), edge(.output, DNNL_ARG_DST)])
        case .backward(let function):
            let hint = forwardDesc(function, data)
            defer { dnnl_primitive_desc_destroy(hint) }
            var diff = data, source = data
            var op = dnnl_eltwise_desc_t()
            dnnlCheck(dnnl_eltwise_backward_desc_init(&op, function.algorithm, &diff, &source, function.alpha, 0),
                      "eltwise_backward_desc_init \(function)")
            let pd = context.primitiveDesc(&op, hint: hint, "eltwise backward \(function)")
            defer { dnnl_primitive_desc_destroy(pd) }
            let savedArg = function.backwardUsesOutput ? DNNL_ARG_DST : DNNL_ARG_SRC
            return Plan("eltwise backward \(function) [\(context.implementation(pd))]", pd: pd,
                        edges: [edge(.input, savedArg), edge(.input, DNNL_ARG_DIFF_DST), edge(.output, DNNL_ARG_DIFF_SRC)])
        case .binary(let function):
            var a = data, b = data, out = data
            var op = dnnl_binary_desc_t()
            dnnlCheck(dnnl_binary_desc_init(&op, function.algorithm, &a, &b, &out), "binary_desc_init \(function)")
            let pd = context.primitiveDesc(&op, attributes: function == .addReLU ? PrimitiveAttributes(postReLU: true) : nil,
                                           "binary \(function)")
            defer { dnnl_primitive_desc_destroy(pd) }
            return Plan("binary \(function) [\(context.implementation(pd))]", pd: pd,
                        edges: [edge(.input, DNNL_ARG_SRC_0), edge(.input, DNNL_ARG_SRC_1), edge(.output, DNNL_ARG_DST)])
        }
    }
}
