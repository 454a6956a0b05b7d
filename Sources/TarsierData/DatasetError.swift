/// An error raised while locating, reading or validating a dataset file.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    /// What went wrong.
    public enum Kind: String, Sendable, Equatable {
        /// The dataset's files are not in the directory.
        case notFound
        /// A file exists but cannot be opened or decompressed.
        case unreadable
        /// A file does not start with a valid IDX magic number.
        case badMagic
        /// An IDX file stores a type other than unsigned bytes.
        case unsupportedType
        /// A file's dimensions are not what the dataset needs.
        case invalidDimensions
        /// A file ends before its declared payload does.
        case truncated
        /// A file has bytes after its declared payload.
        case trailingData
        /// Files of one dataset disagree, or a label is out of range.
        case inconsistent
        /// More image files failed to load in an epoch than the bad-file policy allows.
        case tooManyBadFiles
    }

    /// What went wrong.
    public var kind: Kind
    /// The file (or directory) at fault.
    public var file: String
    /// The specifics and what to do.
    public var detail: String

    /// Creates an error.
    public init(kind: Kind, file: String, detail: String) {
        self.kind = kind
        self.file = file
        self.detail = detail
    }

    /// A message naming the file and what to do.
    public var description: String {
        switch kind {
        case .notFound, .tooManyBadFiles:
            return detail
        case .inconsistent:
            return "'\(file)': \(detail)"
        case .unreadable:
            return "cannot read '\(file)': \(detail)"
        default:
            return "'\(file)': \(detail); the file is damaged or not an IDX file, re-install or "
                + "re-download the dataset"
        }
    }
}
