import CDNNL

/// Cache key of a batch-norm plan.
struct BatchNormKey: Hashable {
    enum Pass: Hashable { case training, inference, backward }
    var batch, channels, spatial: Int
    var epsilonBits: UInt32
    var pass: Pass
    var channelsLast: Bool
    /// ReLU fused into the training pass and its backward pass (oneDNN's `fuse_norm_relu`).
    var relu = false
}

extension DNNL {
    /// Batch normalisation in training mode over NCHW, per channel.
    ///
    /// `destination = scale * (source - mean) / sqrt(variance + epsilon) + shift`, with the
    /// batch mean and biased (divide by `batch * spatial`) variance, which are also returned.
    /// - Parameters:
    ///   - batch: N.
    ///   - channels: C.
    ///   - spatial: H * W (1 for a `[N, C]` input).
    ///   - epsilon: Added to the variance.
    ///   - channelsLast: `source` and `destination` are `[batch, spatial, channels]` in memory.
    ///   - source: `[batch, channels, spatial]`.
    ///   - scale: `[channels]` (gamma).
    ///   - shift: `[channels]` (beta).
    ///   - destination: `[batch, channels, spatial]`, overwritten; may equal `source`.
    ///   - mean: `[channels]`, receives the batch mean.
    ///   - variance: `[channels]`, receives the biased batch variance.
    ///   - reluWorkspace: When given, ReLU is applied to the output in the same pass, and
    ///     which outputs it zeroed is written here (`batchNormReLUWorkspaceByteCount` bytes)
    ///     for `batchNormBackward`.
    public static func batchNormForwardTraining(
        batch: Int, channels: Int, spatial: Int, epsilon: Float, channelsLast: Bool = false, source: UnsafePointer<Float>,
        scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
        destination: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
        variance: UnsafeMutablePointer<Float>, reluWorkspace: UnsafeMutableRawPointer? = nil
    ) {
        let key = BatchNormKey(batch: batch, channels: channels, spatial: spatial,
                               epsilonBits: epsilon.bitPattern, pass: .training, channelsLast: channelsLast,
                               relu: reluWorkspace != nil)
        var bindings = [
            (DNNL_ARG_SRC, raw(source)), (DNNL_ARG_SCALE, raw(scale)),
            (DNNL_ARG_SHIFT, raw(shift)), (DNNL_ARG_DST, raw(destination)),
            (DNNL_ARG_MEAN, raw(mean)), (DNNL_ARG_VARIANCE, raw(variance)),
        ]
        if let reluWorkspace { bindings.append((DNNL_ARG_WORKSPACE, reluWorkspace)) }
        BatchNormPlans.plan(key).execute(bindings)
    }

    /// Bytes of the workspace a training pass with fused ReLU writes (see
    /// `batchNormForwardTraining`).
    public static func batchNormReLUWorkspaceByteCount(batch: Int, channels: Int, spatial: Int, epsilon: Float,
                                                       channelsLast: Bool) -> Int {
        let key = BatchNormKey(batch: batch, channels: channels, spatial: spatial,
                               epsilonBits: epsilon.bitPattern, pass: .training, channelsLast: channelsLast,
                               relu: true)
        return BatchNormPlans.plan(key).workspaceBytes
    }

    /// Batch normalisation in inference mode, with given (running) statistics.
    /// - Parameters:
    ///   - batch: N.
    ///   - channels: C.
    ///   - spatial: H * W (1 for a `[N, C]` input).
    ///   - epsilon: Added to the variance.
    ///   - channelsLast: `source` and `destination` are `[batch, spatial, channels]` in memory.
    ///   - source: `[batch, channels, spatial]`.
    ///   - scale: `[channels]` (gamma).
    ///   - shift: `[channels]` (beta).
    ///   - mean: `[channels]`.
    ///   - variance: `[channels]`.
    ///   - destination: `[batch, channels, spatial]`, overwritten; may equal `source`.
    public static func batchNormForwardInference(
        batch: Int, channels: Int, spatial: Int, epsilon: Float, channelsLast: Bool = false, source: UnsafePointer<Float>,
        scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, mean: UnsafePointer<Float>,
        variance: UnsafePointer<Float>, destination: UnsafeMutablePointer<Float>
    ) {
        let key = BatchNormKey(batch: batch, channels: channels, spatial: spatial,
                               epsilonBits: epsilon.bitPattern, pass: .inference, channelsLast: channelsLast)
        BatchNormPlans.plan(key).execute([
            (DNNL_ARG_SRC, raw(source)), (DNNL_ARG_SCALE, raw(scale)),
            (DNNL_ARG_SHIFT, raw(shift)), (DNNL_ARG_MEAN, raw(mean)),
            (DNNL_ARG_VARIANCE, raw(variance)), (DNNL_ARG_DST, raw(destination)),
        ])
    }

    /// Gradients of training-mode batch normalisation, given the batch statistics of the
    /// forward pass (the mean and variance depend on the source and are differentiated too).
    /// - Parameters:
    ///   - batch: N.
    ///   - channels: C.
    ///   - spatial: H * W.
    ///   - epsilon: The forward epsilon.
    ///   - source: `[batch, channels, spatial]`, the forward input.
    ///   - destinationGradient: `[batch, channels, spatial]`.
    ///   - scale: `[channels]` (gamma).
    ///   - mean: `[channels]`, batch mean from the forward pass.
    ///   - variance: `[channels]`, biased batch variance from the forward pass.
    ///   - sourceGradient: `[batch, channels, spatial]`, overwritten.
    ///   - scaleGradient: `[channels]`, overwritten.
    ///   - shiftGradient: `[channels]`, overwritten.
    ///   - reluWorkspace: The forward pass's workspace when it fused ReLU: the gradient of the
    ///     outputs ReLU zeroed is dropped first.
    public static func batchNormBackward(
        batch: Int, channels: Int, spatial: Int, epsilon: Float, channelsLast: Bool = false, source: UnsafePointer<Float>,
        destinationGradient: UnsafePointer<Float>, scale: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, variance: UnsafePointer<Float>,
        sourceGradient: UnsafeMutablePointer<Float>, scaleGradient: UnsafeMutablePointer<Float>,
        shiftGradient: UnsafeMutablePointer<Float>, reluWorkspace: UnsafeRawPointer? = nil
    ) {
        let key = BatchNormKey(batch: batch, channels: channels, spatial: spatial,
                               epsilonBits: epsilon.bitPattern, pass: .backward, channelsLast: channelsLast,
                               relu: reluWorkspace != nil)
        var bindings = [
            (DNNL_ARG_SRC, raw(source)), (DNNL_ARG_DIFF_DST, raw(destinationGradient)),
            (DNNL_ARG_SCALE, raw(scale)), (DNNL_ARG_MEAN, raw(mean)),
            // oneDNN 2.6 insists on a shift argument with `use_shift` but never reads it.
            (DNNL_ARG_SHIFT, raw(scale)),
            (DNNL_ARG_VARIANCE, raw(variance)), (DNNL_ARG_DIFF_SRC, raw(sourceGradient)),
            (DNNL_ARG_DIFF_SCALE, raw(scaleGradient)), (DNNL_ARG_DIFF_SHIFT, raw(shiftGradient)),
        ]
        if let reluWorkspace { bindings.append((DNNL_ARG_WORKSPACE, UnsafeMutableRawPointer(mutating: reluWorkspace))) }
        BatchNormPlans.plan(key).execute(bindings)
    }
}

/// Builds the cached batch-norm plans; data is viewed as `[N, C, spatial, 1]` NCHW.
enum BatchNormPlans {
    static let flags = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue

    static func plan(_ key: BatchNormKey) -> Plan {
        DNNLContext.shared.plan(.batchNorm(key)) { make(key) }
    }

    static func forwardDesc(_ key: BatchNormKey, data: dnnl_memory_desc_t,
                            inference: Bool) -> dnnl_primitive_desc_t {
        var data = data
        var op = dnnl_batch_normalization_desc_t()
        let epsilon = Float(bitPattern: key.epsilonBits)
        var flags = inference ? flags | dnnl_use_global_stats.rawValue : flags
        if key.relu { flags |= dnnl_fuse_norm_relu.rawValue }
        dnnlCheck(dnnl_batch_normalization_forward_desc_init(
            &op, inference ? dnnl_forward_inference : dnnl_forward_training, &data, epsilon,
            flags), "batch_normalization_forward_desc_init \(key)")
        return DNNLContext.shared.primitiveDesc(&op, "batch normalization forward \(key)")
    }

    static func make(_ key: BatchNormKey) -> Plan {
        precondition(key.batch > 0 && key.channels > 0 && key.spatial > 0,
                     "batch norm: dimensions must be positive: \(key)")
        let context = DNNLContext.shared
        // Channels-last data is [N, spatial, C] in memory: NHWC with W = 1.
        let data = context.desc([key.batch, key.channels, key.spatial, 1], key.channelsLast ? dnnl_nhwc : dnnl_nchw)
        let vector = context.desc([key.channels], dnnl_a)
        func input(_ arg: Int32, _ md: dnnl_memory_desc_t) -> (arg: Int32, edge: Edge) {
            (arg, Edge(.input, plain: md, "batch norm \(arg)"))
        }
        func output(_ arg: Int32, _ md: dnnl_memory_desc_t) -> (arg: Int32, edge: Edge) {
            (arg, Edge(.output, plain: md, "batch norm \(arg)"))
        }
        switch key.pass {
        case .training, .inference:
            let inference = key.pass == .inference
            let pd = forwardDesc(key, data: data, inference: inference)
            defer { dnnl_primitive_desc_destroy(pd) }
            let statistics = inference
                ? [input(DNNL_ARG_MEAN, vector), input(DNNL_ARG_VARIANCE, vector)]
                : [output(DNNL_ARG_MEAN, vector), output(DNNL_ARG_VARIANCE, vector)]
            let workspace = key.relu ? context.query(pd, dnnl_query_workspace_md, "batch norm") : nil
            var workspaceBytes = 0
            if var workspace { workspaceBytes = dnnl_memory_desc_get_size(&workspace) }
            return Plan("batch normalization forward\(key.relu ? " + relu" : "") [\(context.implementation(pd))]",
                        pd: pd,
                        edges: [input(DNNL_ARG_SRC, data), input(DNNL_ARG_SCALE, vector),
                                input(DNNL_ARG_SHIFT, vector), output(DNNL_ARG_DST, data)]
                            + statistics + (workspace.map { [output(DNNL_ARG_WORKSPACE, $0)] } ?? []),
                        workspaceBytes: workspaceBytes)
        case .backward:
            let hint = forwardDesc(key, data: data, inference: false)
            defer { dnnl_primitive_desc_destroy(hint) }
            var data = data
            var op = dnnl_batch_normalization_desc_t()
            let backwardFlags = key.relu ? flags | dnnl_fuse_norm_relu.rawValue : flags
            dnnlCheck(dnnl_batch_normalization_backward_desc_init(
                &op, dnnl_backward, &data, &data, Float(bitPattern: key.epsilonBits), backwardFlags),
                "batch_normalization_backward_desc_init \(key)")
            let pd = context.primitiveDesc(&op, hint: hint, "batch normalization backward \(key)")
            defer { dnnl_primitive_desc_destroy(pd) }
            let workspace = key.relu
                ? [input(DNNL_ARG_WORKSPACE, context.query(pd, dnnl_query_workspace_md, "batch norm backward"))] : []
            return Plan("batch normalization backward\(key.relu ? " + relu" : "") [\(context.implementation(pd))]",
                        pd: pd,
                        edges: [input(DNNL_ARG_SRC, data), input(DNNL_ARG_DIFF_DST, data),
                                input(DNNL_ARG_SCALE, vector), input(DNNL_ARG_SHIFT, vector),
                                input(DNNL_ARG_MEAN, vector),
                                input(DNNL_ARG_VARIANCE, vector), output(DNNL_ARG_DIFF_SRC, data),
                                output(DNNL_ARG_DIFF_SCALE, vector),
                                output(DNNL_ARG_DIFF_SHIFT, vector)] + workspace)
        }
    }
}
