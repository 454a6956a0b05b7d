/// What a file loader does with an image that cannot be read or decoded.
public enum BadFilePolicy: Sendable, Equatable {
    /// Stop with the file's error.
    case fail
    /// Leave the file out of its batch and report it at the end of the epoch; stop only when more
    /// than `maxFraction` of the dataset (and more than one file) fails in one epoch.
    case skip(maxFraction: Double)

    /// Skip up to 1% of the files.
    public static let skipUpToOnePercent = BadFilePolicy.skip(maxFraction: 0.01)

    /// How many failures an epoch over `count` files tolerates: one bad file never ends a run.
    func allowedFailures(of count: Int) -> Int {
        switch self {
        case .fail: return 0
        case .skip(let fraction): return max(1, Int((fraction * Double(count)).rounded(.down)))
        }
    }
}
