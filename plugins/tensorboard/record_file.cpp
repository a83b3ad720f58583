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
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("create");
}

RecordFile::~RecordFile() {
  if (fd_ >= 0) ::close(fd_);  // close() was not reached: an exception is on its way, nothing more to report
}

void RecordFile::write(const std::string& data) {
  if (fd_ < 0) throw std::logic_error("write to the closed event file " + path_);
  std::string record(12, '\0');
  put_le(&record[0], data.size(), 8);
  put_le(&record[8], masked_crc32c(record.data(), 8), 4);
  record += data;
  char footer[4];
  put_le(footer, masked_crc32c(data.data(), data.size()), 4);
  record.append(footer, sizeof footer);
  for (size_t done = 0; done < record.size();) {
    const ssize_t n = ::write(fd_, record.data() + done, record.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write to");
    done += static_cast<size_t>(n);
  }
}

void RecordFile::sync() {
  if (fd_ >= 0 && ::fsync(fd_) != 0) fail("flush");
}

void RecordFile::close() {
  if (fd_ < 0) return;
  sync();
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close");
}

void RecordFile::fail(const char* what) const {
  throw std::runtime_error(std::string("cannot ") + what + " the event file " + path_ + ": " + std::strerror(errno));
}

}  // namespace mmdebias::tensorboard
