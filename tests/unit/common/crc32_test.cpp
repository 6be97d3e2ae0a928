// CRC-32 as the cores compute it must equal the standard one (the frame
// and storage layers use boost::crc_32_type): known check values.

#include "common/crc32.h"

#include <gtest/gtest.h>

#include <string>

namespace synod {
namespace {

TEST(Crc32, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32(""), 0u);
  EXPECT_EQ(crc32(std::string(1, '\0')), 0xD202EF8Du);
  EXPECT_EQ(crc32("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
}

TEST(Crc32, ContinuesAcrossPieces) {
  const std::string whole = "snapshot bytes, in chunks";
  std::uint32_t c = 0;
  for (std::size_t i = 0; i < whole.size(); i += 4) c = crc32(std::string_view(whole).substr(i, 4), c);
  EXPECT_EQ(c, crc32(whole));
}

TEST(Crc32, SeesEverySingleBitFlip) {
  std::string data = "abcdefgh";
  const std::uint32_t good = crc32(data);
  for (std::size_t i = 0; i < data.size() * 8; ++i) {
    std::string bad = data;
    bad[i / 8] = static_cast<char>(bad[i / 8] ^ (1 << (i % 8)));
    EXPECT_NE(crc32(bad), good) << "bit " << i;
  }
}

}  // namespace
}  // namespace synod
