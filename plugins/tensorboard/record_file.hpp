// Internal to the tensorboard plugin: a TFRecord file, the framing TensorBoard's event files use.
#pragma once

#include <cstdint>
#include <string>

namespace mmdebias::tensorboard {

/// CRC-32C (Castagnoli) of data, as TFRecord uses it (Boost.CRC).
uint32_t crc32c(const void* data, size_t size);
/// The masked CRC TFRecord stores: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t masked_crc32c(const void* data, size_t size);

/// An append-only file of TFRecords: uint64 length, masked CRC of the length, data, masked CRC of the data (all
/// little-endian). Every error throws std::runtime_error naming the file.
class RecordFile {
 public:
  /// Creates path (which must not exist: event files are never appended to by a second writer).
  explicit RecordFile(std::string path);
  ~RecordFile();
  RecordFile(const RecordFile&) = delete;
  RecordFile& operator=(const RecordFile&) = delete;

  /// Appends one record in one write(2) (TensorBoard reads a live file; a killed run leaves whole records).
  void write(const std::string& data);
  /// Makes everything written durable (fsync).
  void sync();
  /// Syncs and closes; later calls do nothing.
  void close();
  /// The file's path.
  const std::string& path() const { return path_; }

 private:
  [[noreturn]] void fail(const char* what) const;
  std::string path_;
  int fd_ = -1;
};

}  // namespace mmdebias::tensorboard
