import Foundation

/// torchvision's `ImageFolder`: every subfolder of the root is a class (sorted by name, as
/// torchvision sorts them), and every image file below it, at any depth, is a sample.
public enum ImageFolder {
    /// File name endings loaded by default (compared case-insensitively).
    public static let defaultExtensions = [".jpg", ".jpeg", ".png"]

    /// Lists the labelled files under `root`.
    /// - Parameters:
    ///   - root: A folder whose subfolders are the classes.
    ///   - extensions: File name endings to include (case-insensitive); other files are ignored.
    /// - Throws: `DatasetError` when the root is missing, has no class folders, or a class has no
    ///   image files (as torchvision, which refuses such a class).
    public static func load(root: String, extensions: [String] = defaultExtensions) throws -> ImageFileDataset {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError(kind: .notFound, file: root,
                               detail: "'\(root)' is not a folder; an image folder holds one subfolder per class")
        }
        let entries: [String]
        do {
            entries = try fm.contentsOfDirectory(atPath: root)
        } catch {
            throw DatasetError(kind: .unreadable, file: root, detail: "cannot list the folder (\(error.localizedDescription))")
        }
        let classNames = entries.filter { name in
            var isDir: ObjCBool = false
            return !name.hasPrefix(".") && fm.fileExists(atPath: join(root, name), isDirectory: &isDir) && isDir.boolValue
        }.sorted(by: codePointOrder)
        guard !classNames.isEmpty else {
            throw DatasetError(kind: .notFound, file: root,
                               detail: "'\(root)' has no subfolders; an image folder holds one subfolder per class "
                                   + "(e.g. \(root)/cat/1.jpg, \(root)/dog/2.jpg)")
        }
        let endings = extensions.map { $0.lowercased() }
        var samples: [ImageFileDataset.Sample] = []
        var empty: [String] = []
        for (label, name) in classNames.enumerated() {
            let files = imageFiles(under: join(root, name), endings: endings)
            if files.isEmpty { empty.append(name) }
            samples += files.map { ImageFileDataset.Sample(path: $0, label: label) }
        }
        guard empty.isEmpty else {
            throw DatasetError(kind: .notFound, file: root,
                               detail: "no image files (\(endings.joined(separator: ", "))) in the class folder(s) "
                                   + empty.map { "'\($0)'" }.joined(separator: ", "))
        }
        return ImageFileDataset(samples: samples, classNames: classNames, source: root)
    }

    /// Files below `folder` whose names end in one of `endings`, folder by folder in sorted path
    /// order and sorted within each folder (torchvision's `sorted(os.walk(...))`).
    static func imageFiles(under folder: String, endings: [String]) -> [String] {
        let fm = FileManager.default
        var folders: [(path: String, files: [String])] = []
        var visited = Set<String>()
        var pending = [folder]
        while let current = pending.popLast() {
            // Following symbolic links as torchvision does, but never into a loop.
            let resolved = (current as NSString).resolvingSymlinksInPath
            guard visited.insert(resolved).inserted,
                  let names = try? fm.contentsOfDirectory(atPath: current) else { continue }
            var files: [String] = []
            for name in names where !name.hasPrefix(".") {
                let path = join(current, name)
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: path, isDirectory: &isDir) else { continue }
                if isDir.boolValue {
                    pending.append(path)
                } else if endings.contains(where: { name.lowercased().hasSuffix($0) }) {
                    files.append(name)
                }
            }
            folders.append((current, files.sorted(by: codePointOrder)))
        }
        folders.sort { codePointOrder($0.path, $1.path) }
        return folders.flatMap { entry in entry.files.map { join(entry.path, $0) } }
    }

    static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }
}
