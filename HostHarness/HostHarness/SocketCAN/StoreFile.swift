// The SBC deployment's non-volatile store: a file that mirrors an InMemoryStore word for word
// (`run --state FILE`), so the firmware's checkpoints and black box survive a restart of the
// process or of the board. Words are little-endian, page after page; a new file is created
// erased (every byte 0xFF). A record becomes durable when its commit word is written: the file
// is synced then (fdatasync), so a record is never on disk before the words it covers.
import Firmware
import Glibc
import HAL

/// An open state file (copies of a store share it; closed with the last one).
public final class StoreFile: @unchecked Sendable {
    let descriptor: FileDescriptor
    public let path: String
    /// Syncs done (one per committed record).
    public private(set) var syncs = 0

    /// Opens (or creates, erased) the state file for `geometry`; the words it holds.
    public static func open(path: String, geometry: StoreGeometry) throws(HarnessError) -> (StoreFile, [UInt32]) {
        let bytes = geometry.pageCount * geometry.wordsPerPage * 4
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HarnessError("\(path): cannot open the state file: \(Errno.current)") }
        let file = StoreFile(descriptor: FileDescriptor(adopting: fd), path: path)
        var size = stat()
        guard fstat(fd, &size) == 0 else { throw HarnessError("\(path): cannot stat the state file: \(Errno.current)") }
        var words = [UInt32](repeating: 0xFFFF_FFFF, count: bytes / 4)
        if size.st_size == 0 {
            let written = words.withUnsafeBytes { pwrite(fd, $0.baseAddress, bytes, 0) }
            guard written == bytes, fdatasync(fd) == 0 else { throw HarnessError("\(path): cannot create the state file: \(Errno.current)") }
        } else {
            guard Int(size.st_size) == bytes else {
                throw HarnessError("\(path): the state file holds \(size.st_size) bytes, not the \(bytes) of a store of "
                                   + "\(geometry.pageCount) pages × \(geometry.wordsPerPage) words (another pack's file?)")
            }
            let read = words.withUnsafeMutableBytes { pread(fd, $0.baseAddress, bytes, 0) }
            guard read == bytes else { throw HarnessError("\(path): cannot read the state file: \(Errno.current)") }
            for i in words.indices { words[i] = UInt32(littleEndian: words[i]) }
        }
        return (file, words)
    }

    init(descriptor: FileDescriptor, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    /// Writes `count` words from `index` on; syncs when `sync`. False when the OS refused.
    func write(_ values: ArraySlice<UInt32>, at index: Int, sync: Bool) -> Bool {
        let little = values.map { $0.littleEndian }
        let bytes = little.count * 4
        let written = little.withUnsafeBytes { pwrite(descriptor.rawValue, $0.baseAddress, bytes, off_t(index * 4)) }
        guard written == bytes else { return false }
        if sync {
            guard fdatasync(descriptor.rawValue) == 0 else { return false }
            syncs += 1
        }
        return true
    }
}
