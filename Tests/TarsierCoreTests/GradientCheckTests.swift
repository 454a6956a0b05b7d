import Foundation
import XCTest
@testable import TarsierCore
import TarsierSupport

/// One row of the op table: inputs, and the op applied to them.
///
/// The check builds `loss = (body(inputs) * W).sum()` with fixed random weights `W` of the output's
/// shape, so every output element matters, and compares `backward()` against central differences.
struct GradCheckEntry {
    enum Category: String, CaseIterable {
        case elementwise, reduction, movement, matmul, conv, pool, norm, softmax
    }

    /// Unique, descriptive name (also seeds the input values).
    let name: String
    let category: Category
    /// Op names this entry exercises, as in `GradCheckTable.requiredOps` (`name` or `name:variant`).
    let ops: [String]
    let inputs: [InputSpec]
    let body: ([Tensor]) -> Tensor
    var eps = 1e-6
    var atol = 1e-5
    var rtol = 1e-3

    init(_ name: String, _ category: Category, ops: [String], _ inputs: [InputSpec],
         eps: Double = 1e-6, atol: Double = 1e-5, rtol: Double = 1e-3, _ body: @escaping ([Tensor]) -> Tensor) {
        self.name = name
        self.category = category
        self.ops = ops
        self.inputs = inputs
        self.body = body
        self.eps = eps
        self.atol = atol
        self.rtol = rtol
    }
}

/// The op table: every differentiable public op of TarsierCore, in Float64 on `Device.reference`.
enum GradCheckTable {
    /// Every differentiable public op; `name:variant` distinguishes overloads. Each needs an entry.
    static let requiredOps: [String] = [
        "+", "+:scalar", "+:scalarLeft", "-", "-:scalar", "-:scalarLeft", "-:prefix",
        "*", "*:scalar", "*:scalarLeft", "/", "/:scalar", "/:scalarLeft",
        "maximum", "minimum", "exp", "log", "sqrt", "abs", "squared", "reciprocal", "pow", "clamped",
        "relu", "leakyRelu", "sigmoid", "tanh", "gelu", "reluOfSum",
        "sum:axes", "sum:axis", "sum:toShape", "mean:axes", "mean:axis", "max", "min", "logSumExp",
        "expanded", "reshaped", "flattened", "permuted", "transposed", "slice", "concatenate", "stack",
        "padded2d", "contiguous", "cast", "to", "channelsLast", "channelBlocked", "channelUnblocked",
        "matmul", "conv2d", "maxPool2d", "avgPool2d", "adaptiveAvgPool2d", "adaptiveMaxPool2d",
        "batchNormTraining", "batchNormReLUTraining", "batchNormInference", "softmax", "logSoftmax",
    ]

    /// Public functions of the `Tensor+*.swift` / `Tensor.swift` files that are not differentiable
    /// ops (constructors, accessors, helpers, integer-valued results, in-place updates).
    static let exemptSourceNames: Set<String> = [
        "argmax", "broadcastShape", "contiguousStrides", "axis", "toArray", "toDoubleArray", "item",
        "detached", "uniform", "normal", "assign", "withMutableFloats", "backward", "requiringGrad",
        "safeTensorsEntry", "channelsLastStrides", "noteMutation",
        // Inference kernels: they refuse to run while gradients are recorded.
        "channelBlockedConv2d", "channelBlockedMaxPool2d",
    ]

    // Domains for the binary-op tables: `a` and `b` never tie (grids offset by half a step).
    static let gridA = ValueDomain.distinct(start: -0.5, step: 0.01)
    static let gridB = ValueDomain.distinct(start: -0.415, step: 0.03)
    static let divisor = ValueDomain.awayFromZero(0.5, 2)

    static let entries: [GradCheckEntry] = elementwise + reductions + movement + matmul + conv + pool + norm + softmax

    // MARK: element-wise

    static var elementwise: [GradCheckEntry] {
        var e: [GradCheckEntry] = []
        let base = [2, 3, 4]
        let broadcastShapes: [[Int]] = [[2, 3, 4], [3, 1], [1], [4]]
        let binaries: [(String, (Tensor, Tensor) -> Tensor)] = [
            ("+", { $0 + $1 }), ("-", { $0 - $1 }), ("*", { $0 * $1 }), ("/", { $0 / $1 }),
            ("maximum", { $0.maximum($1) }), ("minimum", { $0.minimum($1) }),
        ]
        for (op, f) in binaries {
            let bDomain: ValueDomain = op == "/" ? divisor : gridB
            for shape in broadcastShapes {
                e.append(.init("\(op) \(base) with \(shape)", .elementwise, ops: [op],
                               [InputSpec(base, gridA), InputSpec(shape, bDomain)]) { f($0[0], $0[1]) })
            }
            let viewDomain: ValueDomain = op == "/" ? divisor : gridB
            // Broadcast operand first.
            e.append(.init("\(op) [3, 1] with \(base)", .elementwise, ops: [op],
                           [InputSpec([3, 1], gridB), InputSpec(base, op == "/" ? divisor : gridA)]) { f($0[0], $0[1]) })
            // Non-contiguous operands: a permuted view and a sliced view.
            e.append(.init("\(op) permuted view with sliced view", .elementwise, ops: [op, "permuted", "slice"],
                           [InputSpec([4, 3, 2], gridA), InputSpec([2, 5, 4], viewDomain)]) {
                f($0[0].permuted([2, 1, 0]), $0[1].slice(axis: 1, 1..<4))
            })
            // Both operands the same tensor (gradient flows through both sides).
            if op != "maximum" && op != "minimum" {
                e.append(.init("\(op) x with itself", .elementwise, ops: [op],
                               [InputSpec(base, op == "/" ? divisor : .symmetric)]) { f($0[0], $0[0]) })
            }
        }
        e += [
            .init("x + scalar", .elementwise, ops: ["+:scalar"], [InputSpec(base)]) { $0[0] + 2.5 },
            .init("scalar + x", .elementwise, ops: ["+:scalarLeft"], [InputSpec(base)]) { 2.5 + $0[0] },
            .init("x - scalar", .elementwise, ops: ["-:scalar"], [InputSpec(base)]) { $0[0] - 1.5 },
            .init("scalar - x", .elementwise, ops: ["-:scalarLeft"], [InputSpec(base)]) { 1.5 - $0[0] },
            .init("-x", .elementwise, ops: ["-:prefix"], [InputSpec(base)]) { -$0[0] },
            .init("x * scalar", .elementwise, ops: ["*:scalar"], [InputSpec(base)]) { $0[0] * 3 },
            .init("scalar * x", .elementwise, ops: ["*:scalarLeft"], [InputSpec(base)]) { -3 * $0[0] },
            .init("x / scalar", .elementwise, ops: ["/:scalar"], [InputSpec(base)]) { $0[0] / 4 },
            .init("scalar / x", .elementwise, ops: ["/:scalarLeft"], [InputSpec(base, divisor)]) { 4 / $0[0] },
            .init("exp", .elementwise, ops: ["exp"], [InputSpec(base)]) { $0[0].exp() },
            .init("log", .elementwise, ops: ["log"], [InputSpec(base, .positive)]) { $0[0].log() },
            .init("sqrt", .elementwise, ops: ["sqrt"], [InputSpec(base, .positive)]) { $0[0].sqrt() },
            .init("abs", .elementwise, ops: ["abs"], [InputSpec(base, .awayFromZero(0.1, 1))]) { $0[0].abs() },
            .init("squared", .elementwise, ops: ["squared"], [InputSpec(base)]) { $0[0].squared() },
            .init("reciprocal", .elementwise, ops: ["reciprocal"], [InputSpec(base, divisor)]) { $0[0].reciprocal() },
            .init("pow 3", .elementwise, ops: ["pow"], [InputSpec(base)]) { $0[0].pow(3) },
            .init("pow 2 (squaring fast path)", .elementwise, ops: ["pow"], [InputSpec(base)]) { $0[0].pow(2) },
            .init("pow 2.5", .elementwise, ops: ["pow"], [InputSpec(base, .positive)]) { $0[0].pow(2.5) },
            .init("pow 0.5", .elementwise, ops: ["pow"], [InputSpec(base, .positive)]) { $0[0].pow(0.5) },
            .init("pow -1.5", .elementwise, ops: ["pow"], [InputSpec(base, .positive)]) { $0[0].pow(-1.5) },
            .init("clamped", .elementwise, ops: ["clamped"], [InputSpec(base)]) { $0[0].clamped(min: -0.5, max: 0.4) },
            .init("relu", .elementwise, ops: ["relu"], [InputSpec(base, .awayFromZero(0.1, 1))]) { $0[0].relu() },
            // Sums kept away from ReLU's kink: |a| >= 0.3 and |b| <= 0.2.
            .init("reluOfSum", .elementwise, ops: ["reluOfSum"],
                  [InputSpec(base, .awayFromZero(0.3, 1)), InputSpec(base, .uniform(-0.2, 0.2))]) { $0[0].reluOfSum($0[1]) },
            .init("reluOfSum broadcast", .elementwise, ops: ["reluOfSum"],
                  [InputSpec([2, 3, 4], .awayFromZero(0.3, 1)), InputSpec([3, 1], .uniform(-0.2, 0.2))]) {
                $0[0].reluOfSum($0[1])
            },
            .init("leakyRelu default slope", .elementwise, ops: ["leakyRelu"],
                  [InputSpec(base, .awayFromZero(0.1, 1))]) { $0[0].leakyRelu() },
            .init("leakyRelu 0.2", .elementwise, ops: ["leakyRelu"],
                  [InputSpec(base, .awayFromZero(0.1, 1))]) { $0[0].leakyRelu(slope: 0.2) },
            .init("sigmoid", .elementwise, ops: ["sigmoid"], [InputSpec(base, .uniform(-4, 4))]) { $0[0].sigmoid() },
            .init("tanh", .elementwise, ops: ["tanh"], [InputSpec(base, .uniform(-2, 2))]) { $0[0].tanh() },
            .init("gelu", .elementwise, ops: ["gelu"], [InputSpec(base, .uniform(-3, 3))]) { $0[0].gelu() },
            // Unary ops on non-contiguous views.
            .init("tanh of permuted view", .elementwise, ops: ["tanh", "permuted"],
                  [InputSpec([3, 2, 4])]) { $0[0].permuted([1, 0, 2]).tanh() },
            .init("relu of sliced view", .elementwise, ops: ["relu", "slice"],
                  [InputSpec([2, 6, 4], .awayFromZero(0.1, 1))]) { $0[0].slice(axis: 1, 2..<5).relu() },
            .init("exp of transposed view", .elementwise, ops: ["exp", "transposed"],
                  [InputSpec([4, 3])]) { $0[0].transposed().exp() },
            // A small composite: the chain rule across several ops.
            .init("composite gelu(a*b + c).sigmoid", .elementwise, ops: ["*", "+", "gelu", "sigmoid"],
                  [InputSpec([3, 4]), InputSpec([4]), InputSpec([3, 1])]) { ($0[0] * $0[1] + $0[2]).gelu().sigmoid() },
        ]
        return e
    }

    // MARK: reductions

    static var reductions: [GradCheckEntry] {
        let x = [InputSpec([2, 3, 4])]
        let noTies = [InputSpec([2, 3, 4], .noTies)]
        return [
            .init("sum all", .reduction, ops: ["sum:axes"], x) { $0[0].sum() },
            .init("sum axes [0, 2]", .reduction, ops: ["sum:axes"], x) { $0[0].sum(axes: [0, 2]) },
            .init("sum axes [1] keeping", .reduction, ops: ["sum:axes"], x) { $0[0].sum(axes: [1], keepingDimensions: true) },
            .init("sum axes [-1]", .reduction, ops: ["sum:axes"], x) { $0[0].sum(axes: [-1]) },
            .init("sum axis 1", .reduction, ops: ["sum:axis"], x) { $0[0].sum(axis: 1) },
            .init("sum axis 0 keeping, permuted input", .reduction, ops: ["sum:axis", "permuted"], x) {
                $0[0].permuted([2, 0, 1]).sum(axis: 0, keepingDimensions: true)
            },
            .init("sum toShape [3, 1]", .reduction, ops: ["sum:toShape"], x) { $0[0].sum(toShape: [3, 1]) },
            .init("sum toShape [1, 4]", .reduction, ops: ["sum:toShape"], x) { $0[0].sum(toShape: [1, 4]) },
            .init("sum toShape [2, 1, 4]", .reduction, ops: ["sum:toShape"], x) { $0[0].sum(toShape: [2, 1, 4]) },
            .init("mean all", .reduction, ops: ["mean:axes"], x) { $0[0].mean() },
            .init("mean axes [0, 2] keeping", .reduction, ops: ["mean:axes"], x) { $0[0].mean(axes: [0, 2], keepingDimensions: true) },
            .init("mean axis 2", .reduction, ops: ["mean:axis"], x) { $0[0].mean(axis: 2) },
            .init("max all", .reduction, ops: ["max"], noTies) { $0[0].max() },
            .init("max axes [1]", .reduction, ops: ["max"], noTies) { $0[0].max(axes: [1]) },
            .init("max axes [0, 2] keeping", .reduction, ops: ["max"], noTies) { $0[0].max(axes: [0, 2], keepingDimensions: true) },
            .init("max axes [-1] of permuted view", .reduction, ops: ["max", "permuted"], noTies) {
                $0[0].permuted([1, 2, 0]).max(axes: [-1])
            },
            .init("min all", .reduction, ops: ["min"], noTies) { $0[0].min() },
            .init("min axes [0, 2]", .reduction, ops: ["min"], noTies) { $0[0].min(axes: [0, 2]) },
            .init("min axes [2] keeping", .reduction, ops: ["min"], noTies) { $0[0].min(axes: [2], keepingDimensions: true) },
            .init("logSumExp all", .reduction, ops: ["logSumExp"], x) { $0[0].logSumExp() },
            .init("logSumExp axes [1]", .reduction, ops: ["logSumExp"], x) { $0[0].logSumExp(axes: [1]) },
            .init("logSumExp axes [0, 2] keeping", .reduction, ops: ["logSumExp"], x) {
                $0[0].logSumExp(axes: [0, 2], keepingDimensions: true)
            },
            .init("logSumExp of large values", .reduction, ops: ["logSumExp"], [InputSpec([3, 5], .uniform(50, 60))]) {
                $0[0].logSumExp(axes: [1])
            },
        ]
    }

    // MARK: movement

    static var movement: [GradCheckEntry] {
        let x = [InputSpec([2, 3, 4])]
        return [
            .init("reshaped [4, 6]", .movement, ops: ["reshaped"], x) { $0[0].reshaped([4, 6]) },
            .init("reshaped [-1, 2]", .movement, ops: ["reshaped"], x) { $0[0].reshaped([-1, 2]) },
            .init("reshaped permuted view", .movement, ops: ["reshaped", "permuted"], x) {
                $0[0].permuted([2, 1, 0]).reshaped([8, 3])
            },
            .init("flattened", .movement, ops: ["flattened"], x) { $0[0].flattened() },
            .init("flattened 0...1 of sliced view", .movement, ops: ["flattened", "slice"], x) {
                $0[0].slice(axis: 2, 1..<3).flattened(from: 0, through: 1)
            },
            .init("permuted [2, 0, 1]", .movement, ops: ["permuted"], x) { $0[0].permuted([2, 0, 1]) },
            .init("permuted twice", .movement, ops: ["permuted"], x) { $0[0].permuted([2, 0, 1]).permuted([0, 2, 1]) },
            .init("transposed last two", .movement, ops: ["transposed"], x) { $0[0].transposed() },
            .init("transposed 0, 2", .movement, ops: ["transposed"], x) { $0[0].transposed(0, 2) },
            .init("slice axis 1", .movement, ops: ["slice"], x) { $0[0].slice(axis: 1, 1..<3) },
            .init("slice axis -1", .movement, ops: ["slice"], x) { $0[0].slice(axis: -1, 0..<2) },
            .init("slice axis 0 of slice", .movement, ops: ["slice"], x) {
                $0[0].slice(axis: 0, 1..<2).slice(axis: 2, 1..<4)
            },
            .init("slice of permuted view", .movement, ops: ["slice", "permuted"], x) {
                $0[0].permuted([2, 0, 1]).slice(axis: 0, 1..<3)
            },
            .init("overlapping slices summed", .movement, ops: ["slice", "+"], x) {
                $0[0].slice(axis: 2, 0..<3) + $0[0].slice(axis: 2, 1..<4)
            },
            .init("concatenate axis 1", .movement, ops: ["concatenate"],
                  [InputSpec([2, 1, 4]), InputSpec([2, 3, 4]), InputSpec([2, 2, 4])]) {
                Tensor.concatenate($0, axis: 1)
            },
            .init("concatenate axis -1 with views", .movement, ops: ["concatenate", "permuted"],
                  [InputSpec([2, 3, 2]), InputSpec([3, 2, 2])]) {
                Tensor.concatenate([$0[0], $0[1].permuted([1, 0, 2])], axis: -1)
            },
            .init("concatenate axis 0 same tensor twice", .movement, ops: ["concatenate"], [InputSpec([2, 3])]) {
                Tensor.concatenate([$0[0], $0[0]], axis: 0)
            },
            .init("stack axis 0", .movement, ops: ["stack"], [InputSpec([2, 3]), InputSpec([2, 3]), InputSpec([2, 3])]) {
                Tensor.stack($0, axis: 0)
            },
            .init("stack axis 1", .movement, ops: ["stack"], [InputSpec([2, 3]), InputSpec([2, 3])]) {
                Tensor.stack($0, axis: 1)
            },
            .init("stack axis -1", .movement, ops: ["stack"], [InputSpec([2, 3]), InputSpec([3, 2])]) {
                Tensor.stack([$0[0], $0[1].transposed()], axis: -1)
            },
            .init("channelsLast then element-wise ops in that layout", .movement, ops: ["channelsLast", "*", "relu"],
                  [InputSpec([2, 3, 4, 5]), InputSpec([2, 3, 4, 5])]) {
                ($0[0].channelsLast() * $0[1].channelsLast() + $0[1]).relu()
            },
            .init("channelBlocked and back, with element-wise ops on the blocks", .movement,
                  ops: ["channelBlocked", "channelUnblocked"], [InputSpec([2, 32, 3, 2]), InputSpec([2, 32, 3, 2])]) {
                ($0[0].channelBlocked() * $0[1].channelsLast().channelBlocked()).channelUnblocked() + $0[1]
            },
            .init("padded2d", .movement, ops: ["padded2d"], [InputSpec([2, 3, 4, 5])]) {
                $0[0].padded2d(height: 1, width: 2)
            },
            .init("padded2d value 0.5 rank 2", .movement, ops: ["padded2d"], [InputSpec([3, 4])]) {
                $0[0].padded2d(height: 2, width: 1, value: 0.5)
            },
            .init("padded2d of permuted view", .movement, ops: ["padded2d", "permuted"], [InputSpec([2, 4, 3])]) {
                $0[0].permuted([0, 2, 1]).padded2d(height: 1, width: 1)
            },
            .init("expanded [3, 1] to [2, 3, 4]", .movement, ops: ["expanded"], [InputSpec([3, 1])]) {
                $0[0].expanded(to: [2, 3, 4])
            },
            .init("expanded [4] to [3, 4]", .movement, ops: ["expanded"], [InputSpec([4])]) { $0[0].expanded(to: [3, 4]) },
            .init("expanded [2, 1, 4] to [2, 3, 4]", .movement, ops: ["expanded"], [InputSpec([2, 1, 4])]) {
                $0[0].expanded(to: [2, 3, 4])
            },
            .init("contiguous of permuted view", .movement, ops: ["contiguous", "permuted"], x) {
                $0[0].permuted([1, 2, 0]).contiguous()
            },
            .init("contiguous of sliced view, then reshaped", .movement, ops: ["contiguous", "slice", "reshaped"], x) {
                $0[0].slice(axis: 1, 1..<3).contiguous().reshaped([4, 4])
            },
            // Float32 round trip: only Float32 precision, so use the Float32 tolerances of gradcheck.
            .init("cast to float32 and back", .movement, ops: ["cast"], [InputSpec([3, 4])],
                  eps: 1e-3, atol: 1e-2, rtol: 1e-2) {
                ($0[0].cast(to: .float32) * 2).cast(to: .float64)
            },
            .init("to cpu and back", .movement, ops: ["to"], [InputSpec([3, 4])]) {
                ($0[0].to(.cpu).exp() * 2).to(.reference)
            },
        ]
    }

    // MARK: matmul

    static var matmul: [GradCheckEntry] {
        // m = 3, k = 4, n = 5: distinct sizes so a transposed gradient cannot pass by shape accident.
        [
            .init("matmul [3,4]·[4,5]", .matmul, ops: ["matmul"], [InputSpec([3, 4]), InputSpec([4, 5])]) {
                $0[0].matmul($0[1])
            },
            .init("matmul [3,4]·[5,4]ᵀ", .matmul, ops: ["matmul"], [InputSpec([3, 4]), InputSpec([5, 4])]) {
                $0[0].matmul($0[1], transposeOther: true)
            },
            .init("matmul [4,3]ᵀ·[4,5]", .matmul, ops: ["matmul"], [InputSpec([4, 3]), InputSpec([4, 5])]) {
                $0[0].matmul($0[1], transposeSelf: true)
            },
            .init("matmul [4,3]ᵀ·[5,4]ᵀ", .matmul, ops: ["matmul"], [InputSpec([4, 3]), InputSpec([5, 4])]) {
                $0[0].matmul($0[1], transposeSelf: true, transposeOther: true)
            },
            .init("matmul of transposed views", .matmul, ops: ["matmul", "transposed"],
                  [InputSpec([4, 3]), InputSpec([5, 4])]) {
                $0[0].transposed().matmul($0[1].transposed())
            },
            .init("matmul x·xᵀ (same tensor twice)", .matmul, ops: ["matmul"], [InputSpec([3, 4])]) {
                $0[0].matmul($0[0], transposeOther: true)
            },
        ]
    }

    // MARK: convolution

    static var conv: [GradCheckEntry] {
        func c(_ name: String, x: [Int], w: [Int], bias: Bool, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
               dilation: (Int, Int) = (1, 1), groups: Int = 1) -> GradCheckEntry {
            var specs = [InputSpec(x), InputSpec(w)]
            if bias { specs.append(InputSpec([w[0]])) }
            return .init("conv2d \(name) x\(x) w\(w)\(bias ? " +bias" : "")", .conv, ops: ["conv2d"], specs) {
                $0[0].conv2d(weight: $0[1], bias: bias ? $0[2] : nil, stride: stride, padding: padding,
                             dilation: dilation, groups: groups)
            }
        }
        return [
            c("plain", x: [2, 3, 5, 4], w: [4, 3, 3, 3], bias: true),
            c("plain", x: [1, 2, 4, 4], w: [3, 2, 3, 2], bias: false),
            c("stride 2 pad 1", x: [1, 2, 7, 6], w: [3, 2, 3, 3], bias: true, stride: (2, 2), padding: (1, 1)),
            c("stride (2, 1) pad (0, 1)", x: [2, 2, 5, 4], w: [2, 2, 2, 3], bias: false, stride: (2, 1), padding: (0, 1)),
            c("dilation 2 pad 2", x: [1, 2, 7, 7], w: [2, 2, 3, 3], bias: true, padding: (2, 2), dilation: (2, 2)),
            c("dilation (2, 1) stride 2", x: [1, 2, 7, 6], w: [2, 2, 3, 2], bias: false, stride: (2, 2), dilation: (2, 1)),
            c("groups 2", x: [2, 4, 5, 5], w: [6, 2, 3, 3], bias: true, padding: (1, 1), groups: 2),
            c("groups 2", x: [1, 4, 4, 5], w: [4, 2, 2, 2], bias: false, stride: (2, 2), groups: 2),
            c("depthwise", x: [2, 3, 5, 5], w: [3, 1, 3, 3], bias: true, padding: (1, 1), groups: 3),
            c("depthwise multiplier 2", x: [1, 2, 6, 6], w: [4, 1, 3, 3], bias: false, stride: (2, 2), padding: (1, 1),
              groups: 2),
            c("1x1", x: [2, 5, 3, 3], w: [3, 5, 1, 1], bias: true),
            c("1x1 stride 2", x: [1, 3, 5, 5], w: [4, 3, 1, 1], bias: false, stride: (2, 2)),
            c("7x7 stride 2 pad 3", x: [1, 2, 9, 9], w: [2, 2, 7, 7], bias: false, stride: (2, 2), padding: (3, 3)),
            .init("conv2d of permuted input", .conv, ops: ["conv2d", "permuted"],
                  [InputSpec([1, 5, 5, 2]), InputSpec([3, 2, 3, 3]), InputSpec([3])]) {
                $0[0].permuted([0, 3, 1, 2]).conv2d(weight: $0[1], bias: $0[2], padding: (1, 1))
            },
            .init("conv2d with transposed weight view", .conv, ops: ["conv2d", "transposed"],
                  [InputSpec([1, 2, 5, 5]), InputSpec([3, 2, 3, 3])]) {
                $0[0].conv2d(weight: $0[1].transposed(), stride: (2, 1))
            },
            .init("conv2d → relu → conv2d", .conv, ops: ["conv2d", "relu"],
                  [InputSpec([1, 2, 6, 6]), InputSpec([3, 2, 3, 3]), InputSpec([2, 3, 3, 3])]) {
                // The relu input is a conv output, so it cannot be kept away from 0 by the domain; with
                // fixed seeds no value lies within eps of the kink (the check would fail if one did).
                $0[0].conv2d(weight: $0[1], padding: (1, 1)).relu().conv2d(weight: $0[2], stride: (2, 2))
            },
            .init("conv2d with fused relu → conv2d", .conv, ops: ["conv2d", "relu"],
                  [InputSpec([1, 2, 6, 6]), InputSpec([3, 2, 3, 3]), InputSpec([3]), InputSpec([2, 3, 3, 3])]) {
                // As above: fixed seeds keep the fused ReLU's input away from its kink.
                $0[0].conv2d(weight: $0[1], bias: $0[2], padding: (1, 1), relu: true)
                    .conv2d(weight: $0[3], stride: (2, 2))
            },
        ]
    }

    // MARK: pooling

    static var pool: [GradCheckEntry] {
        let noTies = ValueDomain.noTies
        return [
            .init("maxPool2d 2x2", .pool, ops: ["maxPool2d"], [InputSpec([2, 2, 4, 6], noTies)]) {
                $0[0].maxPool2d(kernel: (2, 2))
            },
            .init("maxPool2d 3x3 s2 p1 (overlapping)", .pool, ops: ["maxPool2d"], [InputSpec([1, 2, 7, 7], noTies)]) {
                $0[0].maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1))
            },
            .init("maxPool2d 3x3 s1 (overlapping)", .pool, ops: ["maxPool2d"], [InputSpec([1, 2, 5, 4], noTies)]) {
                $0[0].maxPool2d(kernel: (3, 3), stride: (1, 1))
            },
            .init("maxPool2d 2x2 ceil mode", .pool, ops: ["maxPool2d"], [InputSpec([1, 2, 5, 5], noTies)]) {
                $0[0].maxPool2d(kernel: (2, 2), ceilMode: true)
            },
            .init("maxPool2d 3x3 s2 p1 ceil mode", .pool, ops: ["maxPool2d"], [InputSpec([1, 2, 6, 8], noTies)]) {
                $0[0].maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true)
            },
            .init("maxPool2d (2, 3) stride (1, 2)", .pool, ops: ["maxPool2d"], [InputSpec([2, 1, 4, 7], noTies)]) {
                $0[0].maxPool2d(kernel: (2, 3), stride: (1, 2))
            },
            .init("maxPool2d of permuted view", .pool, ops: ["maxPool2d", "permuted"], [InputSpec([1, 4, 4, 2], noTies)]) {
                $0[0].permuted([0, 3, 1, 2]).maxPool2d(kernel: (2, 2))
            },
            .init("avgPool2d 2x2", .pool, ops: ["avgPool2d"], [InputSpec([2, 2, 4, 6])]) {
                $0[0].avgPool2d(kernel: (2, 2))
            },
            .init("avgPool2d 3x3 s2 p1 include pad", .pool, ops: ["avgPool2d"], [InputSpec([1, 2, 7, 7])]) {
                $0[0].avgPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1))
            },
            .init("avgPool2d 3x3 s2 p1 exclude pad", .pool, ops: ["avgPool2d"], [InputSpec([1, 2, 7, 7])]) {
                $0[0].avgPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1), countIncludePad: false)
            },
            .init("avgPool2d 3x3 s1 p1 (overlapping) exclude pad", .pool, ops: ["avgPool2d"], [InputSpec([1, 1, 4, 5])]) {
                $0[0].avgPool2d(kernel: (3, 3), stride: (1, 1), padding: (1, 1), countIncludePad: false)
            },
            .init("avgPool2d 2x2 ceil mode", .pool, ops: ["avgPool2d"], [InputSpec([1, 2, 5, 5])]) {
                $0[0].avgPool2d(kernel: (2, 2), ceilMode: true)
            },
            .init("avgPool2d 3x3 s2 p1 ceil include pad", .pool, ops: ["avgPool2d"], [InputSpec([1, 2, 6, 8])]) {
                $0[0].avgPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true, countIncludePad: true)
            },
            .init("avgPool2d 3x3 s2 p1 ceil exclude pad", .pool, ops: ["avgPool2d"], [InputSpec([1, 2, 6, 8])]) {
                $0[0].avgPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1), ceilMode: true, countIncludePad: false)
            },
            .init("avgPool2d of sliced view", .pool, ops: ["avgPool2d", "slice"], [InputSpec([1, 3, 6, 4])]) {
                $0[0].slice(axis: 2, 1..<5).avgPool2d(kernel: (2, 2), stride: (1, 1))
            },
            .init("adaptiveAvgPool2d (1, 1)", .pool, ops: ["adaptiveAvgPool2d"], [InputSpec([2, 3, 3, 4])]) {
                $0[0].adaptiveAvgPool2d((1, 1))
            },
            .init("adaptiveAvgPool2d (2, 2) divisible", .pool, ops: ["adaptiveAvgPool2d"], [InputSpec([1, 2, 4, 6])]) {
                $0[0].adaptiveAvgPool2d((2, 2))
            },
            .init("adaptiveAvgPool2d (3, 2) overlapping", .pool, ops: ["adaptiveAvgPool2d"], [InputSpec([1, 2, 5, 5])]) {
                $0[0].adaptiveAvgPool2d((3, 2))
            },
            .init("adaptiveMaxPool2d (1, 1)", .pool, ops: ["adaptiveMaxPool2d"], [InputSpec([2, 3, 3, 4], .noTies)]) {
                $0[0].adaptiveMaxPool2d((1, 1))
            },
            .init("adaptiveMaxPool2d (2, 3) divisible", .pool, ops: ["adaptiveMaxPool2d"], [InputSpec([1, 2, 4, 6], .noTies)]) {
                $0[0].adaptiveMaxPool2d((2, 3))
            },
            .init("adaptiveMaxPool2d (3, 2) overlapping", .pool, ops: ["adaptiveMaxPool2d"], [InputSpec([1, 2, 5, 5], .noTies)]) {
                $0[0].adaptiveMaxPool2d((3, 2))
            },
        ]
    }

    // MARK: normalisation

    static var norm: [GradCheckEntry] {
        let scale = ValueDomain.uniform(0.5, 1.5)
        return [
            .init("batchNormTraining [4, 3, 2, 3]", .norm, ops: ["batchNormTraining"],
                  [InputSpec([4, 3, 2, 3]), InputSpec([3], scale), InputSpec([3])]) {
                $0[0].batchNormTraining(scale: $0[1], shift: $0[2], epsilon: 1e-5).output
            },
            // The kink at zero: outputs stay away from it at this seed's values (a finite
            // difference across it would not match any one-sided derivative).
            .init("batchNormReLUTraining [4, 3, 2, 3]", .norm, ops: ["batchNormReLUTraining"],
                  [InputSpec([4, 3, 2, 3]), InputSpec([3], scale), InputSpec([3])]) {
                $0[0].batchNormReLUTraining(scale: $0[1], shift: $0[2], epsilon: 1e-5).output
            },
            .init("batchNormTraining [5, 3] (spatial 1)", .norm, ops: ["batchNormTraining"],
                  [InputSpec([5, 3]), InputSpec([3], scale), InputSpec([3])]) {
                $0[0].batchNormTraining(scale: $0[1], shift: $0[2], epsilon: 1e-5).output
            },
            .init("batchNormTraining [3, 2, 1, 1] eps 0.1", .norm, ops: ["batchNormTraining"],
                  [InputSpec([3, 2, 1, 1]), InputSpec([2], scale), InputSpec([2])]) {
                $0[0].batchNormTraining(scale: $0[1], shift: $0[2], epsilon: 0.1).output
            },
            .init("batchNormTraining of permuted view", .norm, ops: ["batchNormTraining", "permuted"],
                  [InputSpec([2, 3, 4, 2]), InputSpec([3], scale), InputSpec([3])]) {
                $0[0].permuted([0, 1, 3, 2]).batchNormTraining(scale: $0[1], shift: $0[2], epsilon: 1e-5).output
            },
            .init("batchNormInference [2, 3, 2, 2]", .norm, ops: ["batchNormInference"],
                  [InputSpec([2, 3, 2, 2]), InputSpec([3], scale), InputSpec([3])]) {
                $0[0].batchNormInference(scale: $0[1], shift: $0[2], mean: .ref([3], [0.1, -0.2, 0.3]),
                                         variance: .ref([3], [0.5, 1.5, 2.0]), epsilon: 1e-5)
            },
            .init("batchNormInference [4, 2] (rank 2)", .norm, ops: ["batchNormInference"],
                  [InputSpec([4, 2]), InputSpec([2], scale), InputSpec([2])]) {
                $0[0].batchNormInference(scale: $0[1], shift: $0[2], mean: .ref([2], [0.4, -0.1]),
                                         variance: .ref([2], [0.25, 3.0]), epsilon: 0.01)
            },
        ]
    }

    // MARK: softmax

    static var softmax: [GradCheckEntry] {
        let x = [InputSpec([2, 4, 3], .uniform(-2, 2))]
        return [
            .init("softmax axis 1 of 3-D", .softmax, ops: ["softmax"], x) { $0[0].softmax(axis: 1) },
            .init("logSoftmax axis 1 of 3-D", .softmax, ops: ["logSoftmax"], x) { $0[0].logSoftmax(axis: 1) },
            .init("softmax last axis", .softmax, ops: ["softmax"], x) { $0[0].softmax() },
            .init("logSoftmax last axis", .softmax, ops: ["logSoftmax"], x) { $0[0].logSoftmax(axis: -1) },
            .init("softmax axis 0", .softmax, ops: ["softmax"], x) { $0[0].softmax(axis: 0) },
            .init("logSoftmax of permuted view", .softmax, ops: ["logSoftmax", "permuted"], x) {
                $0[0].permuted([2, 0, 1]).logSoftmax(axis: -1)
            },
            .init("softmax of large logits", .softmax, ops: ["softmax"], [InputSpec([3, 4], .uniform(100, 104))]) {
                $0[0].softmax()
            },
        ]
    }
}

/// Central finite differences against `backward()` (as torch.autograd.gradcheck).
enum GradCheck {
    static func makeInputs(_ entry: GradCheckEntry, _ values: [[Double]], requiringGrad: Bool) -> [Tensor] {
        zip(entry.inputs, values).map { spec, v in
            let t = Tensor.ref(spec.shape, v)
            return requiringGrad ? t.requiringGrad() : t
        }
    }

    /// Runs one entry; returns a description of each problem (empty when the check passes).
    static func run(_ entry: GradCheckEntry) -> [String] {
        var generator = SeededGenerator(seed: stableSeed(entry.name))
        let values = entry.inputs.map { $0.domain.values($0.count, &generator) }

        let reference = Autograd.withNoGrad { entry.body(makeInputs(entry, values, requiringGrad: false)) }
        guard reference.dtype == .float64 else { return ["output dtype \(reference.dtype), expected float64"] }
        var weightGenerator = SeededGenerator(seed: stableSeed(entry.name + "/weights"))
        let weights = Tensor.ref(reference.shape, ValueDomain.uniform(-1, 1).values(reference.count, &weightGenerator))
        func loss(_ inputs: [Tensor]) -> Tensor { (entry.body(inputs) * weights).sum() }

        // Analytic gradients.
        let leaves = makeInputs(entry, values, requiringGrad: true)
        let recorded = entry.body(leaves)
        var problems: [String] = []
        if recorded.shape != reference.shape {
            problems.append("recorded output shape \(recorded.shape) differs from no-grad shape \(reference.shape)")
            return problems
        }
        if maxAbsDifference(recorded.toDoubleArray(), reference.toDoubleArray()) > 1e-12 * Swift.max(1, maxAbs(reference.toDoubleArray())) {
            problems.append("recorded forward differs from the no-grad forward")
        }
        guard recorded.requiresGrad else { return problems + ["output records no gradient"] }
        let l = (recorded * weights).sum()
        l.backward()

        // Numeric gradients, element by element.
        for (i, spec) in entry.inputs.enumerated() {
            let analytic: [Double]
            if let g = leaves[i].grad {
                guard g.shape == spec.shape else {
                    problems.append("input \(i): gradient shape \(g.shape), expected \(spec.shape)")
                    continue
                }
                guard g.dtype == .float64 else {
                    problems.append("input \(i): gradient dtype \(g.dtype), expected float64")
                    continue
                }
                analytic = g.toDoubleArray()
            } else {
                analytic = [Double](repeating: 0, count: spec.count)
            }
            var mismatches: [String] = []
            var mismatchCount = 0
            for j in 0..<spec.count {
                var plus = values, minus = values
                plus[i][j] += entry.eps
                minus[i][j] -= entry.eps
                let (lp, lm) = Autograd.withNoGrad {
                    (loss(makeInputs(entry, plus, requiringGrad: false)).item(),
                     loss(makeInputs(entry, minus, requiringGrad: false)).item())
                }
                let numeric = (lp - lm) / (2 * entry.eps)
                if !(Swift.abs(analytic[j] - numeric) <= entry.atol + entry.rtol * Swift.abs(numeric)) {
                    mismatchCount += 1
                    if mismatches.count < 3 { mismatches.append("[\(j)] analytic \(analytic[j]) numeric \(numeric)") }
                }
            }
            if mismatchCount > 0 {
                problems.append("input \(i) \(spec.shape)\(leaves[i].grad == nil ? " (no gradient)" : ""): "
                                + "\(mismatchCount)/\(spec.count) mismatches, e.g. \(mismatches.joined(separator: ", "))")
            }
        }
        return problems
    }
}

final class GradientCheckTests: XCTestCase {
    private func check(_ category: GradCheckEntry.Category, file: StaticString = #filePath, line: UInt = #line) {
        let entries = GradCheckTable.entries.filter { $0.category == category }
        XCTAssertFalse(entries.isEmpty, file: file, line: line)
        for entry in entries {
            let problems = GradCheck.run(entry)
            if !problems.isEmpty {
                XCTFail("gradcheck \(entry.name): " + problems.joined(separator: "; "), file: file, line: line)
            }
        }
    }

    func testElementwise() { check(.elementwise) }
    func testReductions() { check(.reduction) }
    func testMovement() { check(.movement) }
    func testMatmul() { check(.matmul) }
    func testConvolution() { check(.conv) }
    func testPooling() { check(.pool) }
    func testNormalization() { check(.norm) }
    func testSoftmax() { check(.softmax) }

    /// Every op in `requiredOps` has at least one entry, and entries only name known ops.
    func testEveryRequiredOpHasAnEntry() {
        let covered = Set(GradCheckTable.entries.flatMap(\.ops))
        for op in GradCheckTable.requiredOps where !covered.contains(op) {
            XCTFail("op \(op) has no gradient-check entry")
        }
        for op in covered.subtracting(GradCheckTable.requiredOps) {
            XCTFail("entry names unknown op \(op): add it to requiredOps")
        }
        let names = GradCheckTable.entries.map(\.name)
        XCTAssertEqual(Set(names).count, names.count, "entry names must be unique (they seed the inputs)")
    }

    /// Every public function declared in `Sources/TarsierCore/Tensor*.swift` is either covered by the
    /// table or explicitly exempt, so a newly added op without a gradient check fails here.
    func testEveryPublicTensorFunctionIsInTheTable() throws {
        let sources = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/TarsierCore")
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: sources.path) else {
            throw XCTSkip("sources not available at \(sources.path)")
        }
        let tensorFiles = files.filter { $0.hasPrefix("Tensor") && $0.hasSuffix(".swift") }
        XCTAssertTrue(tensorFiles.contains("Tensor+Elementwise.swift"), "source scan found \(tensorFiles)")
        var declared = Set<String>()
        for file in tensorFiles {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard trimmed.hasPrefix("public "), let range = trimmed.range(of: "func ") else { continue }
                let rest = trimmed[range.upperBound...]
                let name = rest.prefix { !"(< ".contains($0) }
                if !name.isEmpty { declared.insert(String(name)) }
            }
        }
        XCTAssertTrue(declared.contains("conv2d") && declared.contains("+"), "source scan found \(declared.sorted())")
        let coveredNames = Set(GradCheckTable.requiredOps.map { String($0.split(separator: ":", maxSplits: 1)[0]) })
        for name in declared.sorted() where !coveredNames.contains(name) && !GradCheckTable.exemptSourceNames.contains(name) {
            XCTFail("public Tensor function `\(name)` has no gradient-check entry (add one to GradCheckTable, "
                    + "or list it in exemptSourceNames if it is not differentiable)")
        }
    }

    /// The harness itself must catch a wrong gradient (guards against a vacuous check).
    func testHarnessDetectsAWrongGradient() {
        func wrongSquare(_ x: Tensor) -> Tensor {
            let y = Autograd.withNoGrad { x * x }
            // Correct would be 2·x·g; this drops the factor 2.
            return Autograd.record(y.detached(), inputs: [x]) { g in [g * x] }
        }
        let entry = GradCheckEntry("deliberately wrong square", .elementwise, ops: [], [InputSpec([2, 3])]) {
            wrongSquare($0[0])
        }
        let problems = GradCheck.run(entry)
        XCTAssertEqual(problems.count, 1, "\(problems)")
        XCTAssertTrue(problems.first?.contains("6/6 mismatches") ?? false, "\(problems)")

        let missing = GradCheckEntry("gradient missing", .elementwise, ops: [], [InputSpec([3])]) {
            Autograd.record(($0[0] * 2).detached(), inputs: [$0[0]]) { _ in [nil] }
        }
        XCTAssertFalse(GradCheck.run(missing).isEmpty)

        let correct = GradCheckEntry("correct square", .elementwise, ops: [], [InputSpec([2, 3])]) { $0[0] * $0[0] }
        XCTAssertEqual(GradCheck.run(correct), [])
    }
}
