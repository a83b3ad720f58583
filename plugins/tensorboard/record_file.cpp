#include "record_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <boost/crc.hpp>

namespace mmdebias::tensorboard {
namespace {

// TFRecord's integers are little-endian whatever the machine.
void put_le(char* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

}  // namespace

uint32_t crc32c(const void* data, size_t size) {
  // Castagnoli's polynomial, reflected in and out, initial and final XOR all ones: CRC-32C as in iSCSI and TFRecord.
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(data, size);
  return crc.checksum();
}

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

RecordFile::RecordFile(std::string path) : path_(std::move(path)) {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) fail("create");
  file_ = ::fdopen(fd, "wb");
  if (!file_) {
    const int error = errno;
    ::close(fd);
    errno = error;
    fail("open");
  }
}

RecordFile::~RecordFile() {
  if (file_) std::fclose(file_);  // close() was not reached: an exception is on its way, nothing more to report
}

void RecordFile::write(const std::string& data) {
  if (!file_) throw std::logic_error("write to the closed event file " + path_);
  char header[12], footer[4];
  put_le(header, data.size(), 8);
  put_le(header + 8, masked_crc32c(header, 8), 4);
  put_le(footer, masked_crc32c(data.data(), data.size()), 4);
  if (std::fwrite(header, 1, sizeof header, file_) != sizeof header || std::fwrite(data.data(), 1, data.size(), file_) != data.size() ||
      std::fwrite(footer, 1, sizeof footer, file_) != sizeof footer || std::fflush(file_) != 0)
    fail("write to");
}

void RecordFile::sync() {
  if (!file_) return;
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) fail("flush");
}

void RecordFile::close() {
  if (!file_) return;
  sync();
  std::FILE* file = file_;
  file_ = nullptr;
  if (std::fclose(file) != 0) fail("close");
}

void RecordFile::fail(const char* what) const {
  throw std::runtime_error(std::string("cannot ") + what + " the event file " + path_ + ": " + std::strerror(errno));
}

}  // namespace mmdebias::tensorboard
