import Foundation
import TarsierImage

/// Writes an in-memory image set as an ImageFolder of PNG files, for tests, demos and tools that
/// expect folders (`tarsier data export-imagefolder`).
public enum ImageFolderExport {
    /// The folder name of a class: its name with path separators and leading dots replaced, so
    /// that "T-shirt/top" becomes "T-shirt-top".
    public static func folderName(forClass name: String) -> String {
        var safe = name.replacingOccurrences(of: "/", with: "-").replacingOccurrences(of: "\0", with: "")
        while safe.hasPrefix(".") { safe.removeFirst() }
        return safe.isEmpty ? "class" : safe
    }

    /// Writes `<root>/<class>/<index>.png` for the first `limit` images of `set` (all when nil);
    /// existing files are replaced atomically, and classes without images get no folder.
    /// Returns the number of files written.
    public static func write(_ set: ImageClassificationSet, to root: String, limit: Int? = nil) throws -> Int {
        let count = min(limit ?? set.count, set.count)
        let folders = set.classNames.map { (root as NSString).appendingPathComponent(folderName(forClass: $0)) }
        guard Set(folders).count == folders.count else {
            throw DatasetError(kind: .inconsistent, file: root, detail: "two classes map to the same folder name")
        }
        // Only classes with images get a folder: ImageFolder refuses empty class folders.
        for label in Set(set.labels.prefix(count)).sorted() {
            let folder = folders[label]
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw DatasetError(kind: .unreadable, file: folder, detail: "cannot create the folder: \(error.localizedDescription)")
            }
        }
        let digits = max(5, String(set.count - 1).count)
        let format: PixelFormat = set.channels == 1 ? .gray : .rgb
        guard set.channels == 1 || set.channels == 3 else {
            throw DatasetError(kind: .invalidDimensions, file: root, detail: "only 1- or 3-channel images can be written as PNG")
        }
        for index in 0..<count {
            let planar = set.image(at: index)
            // The set is planar (C x H x W); PNG rows are interleaved.
            let plane = set.height * set.width
            var interleaved = [UInt8](repeating: 0, count: planar.count)
            let base = planar.startIndex
            for p in 0..<plane {
                for c in 0..<set.channels { interleaved[p * set.channels + c] = planar[base + c * plane + p] }
            }
            let image = Image(width: set.width, height: set.height, format: format, bytes: interleaved)
            let name = String(repeating: "0", count: max(0, digits - String(index).count)) + String(index) + ".png"
            try ImageCodec.write(image, to: (folders[set.labels[index]] as NSString).appendingPathComponent(name))
        }
        return count
    }
}
