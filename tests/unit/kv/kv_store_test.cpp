// The rules of the key-value store (kv_ops.h), one per test, through the
// typed API and through apply()/query() with encoded ops.

#include "kv/kv_store.h"

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kv/kv_state.h"
#include "kv_test_util.h"

namespace synod::kv {
namespace {

// Runs one op and checks the store's invariants after it.
KvReply run(KvStateMachine& kv, const KvRequest& request) {
  KvReply r = kv.execute(request);
  const Status s = check_invariants(kv.state());
  EXPECT_TRUE(s.ok()) << "after " << op_name(request) << ": " << s.error().message;
  return r;
}

KvReply put(KvStateMachine& kv, Bytes key, Bytes value, std::optional<std::uint64_t> expected = std::nullopt) {
  return run(kv, Put{std::move(key), std::move(value), expected});
}
KvReply get(KvStateMachine& kv, Bytes key) { return run(kv, Get{std::move(key)}); }
KvReply del(KvStateMachine& kv, Bytes key, std::optional<std::uint64_t> expected = std::nullopt) {
  return run(kv, Delete{std::move(key), expected});
}
KvReply list(KvStateMachine& kv, Bytes prefix, std::uint64_t limit = 0) {
  return run(kv, List{std::move(prefix), limit});
}
KvReply cas(KvStateMachine& kv, Bytes key, Bytes expected, Bytes next) {
  return run(kv, Cas{std::move(key), std::move(expected), std::move(next)});
}

KvEntry entry(Bytes key, Bytes value, std::uint64_t version, std::uint64_t create, std::uint64_t mod) {
  return KvEntry{std::move(key), std::move(value), version, create, mod};
}

std::vector<Bytes> keys_of(const KvReply& r) {
  std::vector<Bytes> keys;
  for (const KvEntry& e : r.entries) keys.push_back(e.key);
  return keys;
}

// --- Put, get, versions, revisions

TEST(KvStore, NewStoreIsEmptyAtRevisionZero) {
  KvStateMachine kv;
  EXPECT_EQ(kv.revision(), 0u);
  EXPECT_EQ(kv.key_count(), 0u);
  const KvReply r = list(kv, "");
  EXPECT_EQ(r.status, KvStatus::kOk);
  EXPECT_TRUE(r.entries.empty());
  EXPECT_FALSE(r.more);
  EXPECT_EQ(r.revision, 0u);
}

TEST(KvStore, Put_CreatesKeyAtVersionOneAtTheNextRevision) {
  KvStateMachine kv;
  const KvReply r = put(kv, "a", "1");
  EXPECT_EQ(r.status, KvStatus::kOk);
  EXPECT_EQ(r.revision, 1u);
  EXPECT_EQ(r.entry, entry("a", "1", 1, 1, 1));
  EXPECT_TRUE(r.message.empty());
  EXPECT_EQ(kv.revision(), 1u);
}

TEST(KvStore, Get_ReturnsWhatPutWroteAtTheCurrentRevision) {
  KvStateMachine kv;
  put(kv, "a", "1");
  put(kv, "b", "2");
  const KvReply r = get(kv, "a");
  EXPECT_EQ(r.status, KvStatus::kOk);
  EXPECT_EQ(r.revision, 2u);
  EXPECT_EQ(r.entry, entry("a", "1", 1, 1, 1));
}

TEST(KvStore, Get_OfMissingKeyIsNotFound) {
  KvStateMachine kv;
  put(kv, "a", "1");
  const KvReply r = get(kv, "b");
  EXPECT_EQ(r.status, KvStatus::kNotFound);
  EXPECT_FALSE(r.entry.has_value());
  EXPECT_EQ(r.revision, 1u);
}

TEST(KvStore, Put_OverwriteBumpsVersionAndModRevisionKeepsCreateRevision) {
  KvStateMachine kv;
  put(kv, "a", "1");
  put(kv, "b", "x");
  const KvReply r = put(kv, "a", "2");
  EXPECT_EQ(r.status, KvStatus::kOk);
  EXPECT_EQ(r.revision, 3u);
  EXPECT_EQ(r.entry, entry("a", "2", 2, 1, 3));
  EXPECT_EQ(get(kv, "a").entry, entry("a", "2", 2, 1, 3));
  // Writing the same value again is still a change.
  EXPECT_EQ(put(kv, "a", "2").entry, entry("a", "2", 3, 1, 4));
  EXPECT_EQ(kv.revision(), 4u);
}

TEST(KvStore, Put_KeysAndValuesAreBytes) {
  KvStateMachine kv;
  const Bytes key("k\0\xff", 3);
  const Bytes value("\0\0\x01\x80", 4);
  put(kv, key, value);
  EXPECT_EQ(get(kv, key).entry, entry(key, value, 1, 1, 1));
  EXPECT_EQ(get(kv, Bytes("k", 1)).status, KvStatus::kNotFound);
  put(kv, "e", "");
  EXPECT_EQ(get(kv, "e").entry, entry("e", "", 1, 2, 2));
}

TEST(KvStore, Revision_GrowsByOnePerChangeAcrossKeys) {
  KvStateMachine kv;
  constexpr std::uint64_t kChanges = 50;
  for (std::uint64_t i = 1; i <= kChanges; ++i) {
    const KvReply r = put(kv, "k" + std::to_string(i % 7), std::to_string(i));
    ASSERT_EQ(r.revision, i);
    ASSERT_EQ(r.entry->mod_revision, i);
  }
  EXPECT_EQ(kv.revision(), kChanges);
  EXPECT_EQ(kv.key_count(), 7u);
  EXPECT_EQ(del(kv, "k0").revision, kChanges + 1);
  EXPECT_EQ(cas(kv, "k1", "50", "x").revision, kChanges + 2);
}

TEST(KvStore, Reads_DoNotChangeAnything) {
  KvStateMachine kv;
  put(kv, "a", "1");
  put(kv, "ab", "2");
  const KvState before = kv.state();
  EXPECT_EQ(get(kv, "a").revision, 2u);
  EXPECT_EQ(get(kv, "zz").revision, 2u);
  EXPECT_EQ(list(kv, "a").revision, 2u);
  EXPECT_EQ(kv.read(Get{"a"}).revision, 2u);
  EXPECT_EQ(kv.read(List{"", 1}).revision, 2u);
  EXPECT_EQ(kv.state(), before);
}

// --- Conditional put

TEST(KvStore, ConditionalPut_MatchingVersionWrites) {
  KvStateMachine kv;
  put(kv, "a", "1");
  put(kv, "a", "2");
  const KvReply r = put(kv, "a", "3", 2);
  EXPECT_EQ(r.status, KvStatus::kOk);
  EXPECT_EQ(r.entry, entry("a", "3", 3, 1, 3));
}

TEST(KvStore, ConditionalPut_MismatchChangesNothingAndShowsTheCurrentKey) {
  KvStateMachine kv;
  put(kv, "a", "1");
  put(kv, "a", "2");
  const KvState before = kv.state();
  for (std::uint64_t wrong : {0u, 1u, 3u, 100u}) {
    const KvReply r = put(kv, "a", "x", wrong);
    EXPECT_EQ(r.status, KvStatus::kConditionFailed) << "expected version " << wrong;
    EXPECT_EQ(r.revision, 2u);
    EXPECT_EQ(r.entry, entry("a", "2", 2, 1, 2));
  }
  EXPECT_EQ(kv.state(), before);
}

TEST(KvStore, ConditionalPut_ExpectedZeroCreatesOnlyIfAbsent) {
  KvStateMachine kv;
  const KvReply created = put(kv, "a", "1", 0);
  EXPECT_EQ(created.status, KvStatus::kOk);
  EXPECT_EQ(created.entry, entry("a", "1", 1, 1, 1));
  const KvState before = kv.state();
  const KvReply again = put(kv, "a", "2", 0);
  EXPECT_EQ(again.status, KvStatus::kConditionFailed);
  EXPECT_EQ(again.entry, entry("a", "1", 1, 1, 1));
  EXPECT_EQ(kv.state(), before);
}

TEST(KvStore, ConditionalPut_NonZeroVersionOfMissingKeyFails) {
  KvStateMachine kv;
  put(kv, "b", "1");
  const KvReply r = put(kv, "a", "1", 1);
  EXPECT_EQ(r.status, KvStatus::kConditionFailed);
  EXPECT_FALSE(r.entry.has_value());
  EXPECT_EQ(r.revision, 1u);
  EXPECT_EQ(get(kv, "a").status, KvStatus::kNotFound);
}

// --- Delete

TEST(KvStore, Delete_ExistingKeyRemovesItAndReturnsItAsItWas) {
  KvStateMachine kv;
  put(kv, "a", "1");
  put(kv, "a", "2");
  put(kv, "b", "3");
  const KvReply r = del(kv, "a");
  EXPECT_EQ(r.status, KvStatus::kOk);
  EXPECT_EQ(r.revision, 4u);
  EXPECT_EQ(r.entry, entry("a", "2", 2, 1, 2));
  EXPECT_EQ(get(kv, "a").status, KvStatus::kNotFound);
  EXPECT_EQ(kv.key_count(), 1u);
  EXPECT_EQ(kv.revision(), 4u);
}

TEST(KvStore, Delete_MissingKeyIsNotFoundAndChangesNothing) {
  KvStateMachine kv;
  put(kv, "a", "1");
  const KvState before = kv.state();
  const KvReply r = del(kv, "b");
  EXPECT_EQ(r.status, KvStatus::kNotFound);
  EXPECT_EQ(r.revision, 1u);
  EXPECT_FALSE(r.entry.has_value());
  EXPECT_EQ(kv.state(), before);
}

TEST(KvStore, ConditionalDelete_MatchingVersionDeletes) {
  KvStateMachine kv;
  put(kv, "a", "1");
  put(kv, "a", "2");
  const KvReply r = del(kv, "a", 2);
  EXPECT_EQ(r.status, KvStatus::kOk);
  EXPECT_EQ(r.revision, 3u);
  EXPECT_EQ(get(kv, "a").status, KvStatus::kNotFound);
}

TEST(KvStore, ConditionalDelete_MismatchChangesNothing) {
  KvStateMachine kv;
  put(kv, "a", "1");
  const KvState before = kv.state();
  for (std::uint64_t wrong : {0u, 2u}) {
    const KvReply r = del(kv, "a", wrong);
    EXPECT_EQ(r.status, KvStatus::kConditionFailed) << "expected version " << wrong;
    EXPECT_EQ(r.entry, entry("a", "1", 1, 1, 1));
    EXPECT_EQ(r.revision, 1u);
  }
  EXPECT_EQ(kv.state(), before);
}

TEST(KvStore, ConditionalDelete_OfMissingKey) {
  KvStateMachine kv;
  put(kv, "b", "1");
  const KvState before = kv.state();
  // A missing key has version 0: the condition holds, then nothing is there.
  EXPECT_EQ(del(kv, "a", 0).status, KvStatus::kNotFound);
  const KvReply r = del(kv, "a", 1);
  EXPECT_EQ(r.status, KvStatus::kConditionFailed);
  EXPECT_FALSE(r.entry.has_value());
  EXPECT_EQ(kv.state(), before);
}

TEST(KvStore, Recreate_AfterDeleteRestartsVersionWithNewCreateRevision) {
  KvStateMachine kv;
  put(kv, "a", "1");
  put(kv, "a", "2");
  del(kv, "a");
  const KvReply r = put(kv, "a", "3");
  EXPECT_EQ(r.entry, entry("a", "3", 1, 4, 4));
  // And "must not exist" holds again after the delete.
  del(kv, "a");
  EXPECT_EQ(put(kv, "a", "4", 0).entry, entry("a", "4", 1, 6, 6));
}

// --- List

TEST(KvStore, List_ReturnsThePrefixInByteOrder) {
  KvStateMachine kv;
  for (const char* k : {"b", "abc", "a", "ab", "ac", "aa", "c", "`"}) put(kv, k, std::string("v") + k);
  put(kv, Bytes("a\xff", 2), "hi");
  put(kv, Bytes("a\x01", 2), "lo");
  const KvReply r = list(kv, "a");
  EXPECT_EQ(r.status, KvStatus::kOk);
  EXPECT_EQ(keys_of(r), (std::vector<Bytes>{"a", Bytes("a\x01", 2), "aa", "ab", "abc", "ac", Bytes("a\xff", 2)}));
  EXPECT_FALSE(r.more);
  EXPECT_EQ(r.revision, 10u);
  // Entries carry their values and revisions.
  EXPECT_EQ(r.entries[3], entry("ab", "vab", 1, 4, 4));
  EXPECT_EQ(keys_of(list(kv, "ab")), (std::vector<Bytes>{"ab", "abc"}));
  EXPECT_EQ(keys_of(list(kv, "abc")), (std::vector<Bytes>{"abc"}));
}

TEST(KvStore, List_EmptyPrefixListsEveryKey) {
  KvStateMachine kv;
  for (const char* k : {"b", "a", "c"}) put(kv, k, "v");
  EXPECT_EQ(keys_of(list(kv, "")), (std::vector<Bytes>{"a", "b", "c"}));
}

TEST(KvStore, List_NoMatchIsEmptyWithoutMore) {
  KvStateMachine kv;
  for (const char* k : {"a", "c"}) put(kv, k, "v");
  const KvReply r = list(kv, "b");
  EXPECT_EQ(r.status, KvStatus::kOk);
  EXPECT_TRUE(r.entries.empty());
  EXPECT_FALSE(r.more);
}

TEST(KvStore, List_LimitCutsAndSetsMore) {
  KvStateMachine kv;
  for (const char* k : {"p1", "p2", "p3", "p4", "q"}) put(kv, k, "v");
  const KvReply two = list(kv, "p", 2);
  EXPECT_EQ(keys_of(two), (std::vector<Bytes>{"p1", "p2"}));
  EXPECT_TRUE(two.more);
  const KvReply exact = list(kv, "p", 4);
  EXPECT_EQ(keys_of(exact), (std::vector<Bytes>{"p1", "p2", "p3", "p4"}));
  EXPECT_FALSE(exact.more) << "a limit equal to the match count leaves nothing more";
  const KvReply one = list(kv, "", 1);
  EXPECT_EQ(keys_of(one), (std::vector<Bytes>{"p1"}));
  EXPECT_TRUE(one.more);
}

TEST(KvStore, List_ZeroLimitMeansTheDefaultAndLargeLimitsAreLowered) {
  EXPECT_EQ(effective_list_limit(0), kListLimitDefault);
  EXPECT_EQ(effective_list_limit(7), 7u);
  EXPECT_EQ(effective_list_limit(kListLimitMax), kListLimitMax);
  EXPECT_EQ(effective_list_limit(kListLimitMax + 1), kListLimitMax);
  KvStateMachine kv;
  const std::uint64_t keys = kListLimitMax + 5;
  for (std::uint64_t i = 0; i < keys; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "k%06llu", static_cast<unsigned long long>(i));
    kv.execute(Put{key, "", std::nullopt});
  }
  ASSERT_EQ(kv.key_count(), keys);
  const KvReply by_default = list(kv, "k", 0);
  EXPECT_EQ(by_default.entries.size(), kListLimitDefault);
  EXPECT_TRUE(by_default.more);
  EXPECT_EQ(by_default.entries.back().key, "k000999");
  const KvReply lowered = list(kv, "k", ~std::uint64_t{0});
  EXPECT_EQ(lowered.entries.size(), kListLimitMax);
  EXPECT_TRUE(lowered.more);
}

TEST(KvStore, List_StopsBeforeTheByteBound) {
  KvStateMachine kv;
  const Bytes big(kValueBytesMax, 'v');
  for (const char* k : {"b1", "b2", "b3"}) put(kv, k, big);
  const KvReply r = list(kv, "b");
  // Two values of kValueBytesMax fit in kListReplyBytesMax, three do not.
  ASSERT_LE(2 * (2 + kValueBytesMax), kListReplyBytesMax);
  ASSERT_GT(3 * (2 + kValueBytesMax), kListReplyBytesMax);
  EXPECT_EQ(keys_of(r), (std::vector<Bytes>{"b1", "b2"}));
  EXPECT_TRUE(r.more);
  EXPECT_EQ(r.entries[1].value, big);
}

// --- Cas

TEST(KvStore, Cas_MatchingValueReplacesItAndBumpsTheVersion) {
  KvStateMachine kv;
  put(kv, "a", "old");
  const KvReply r = cas(kv, "a", "old", "new");
  EXPECT_EQ(r.status, KvStatus::kOk);
  EXPECT_EQ(r.revision, 2u);
  EXPECT_EQ(r.entry, entry("a", "new", 2, 1, 2));
  EXPECT_EQ(get(kv, "a").entry->value, "new");
}

TEST(KvStore, Cas_MismatchChangesNothingAndShowsTheCurrentKey) {
  KvStateMachine kv;
  put(kv, "a", "old");
  const KvState before = kv.state();
  const KvReply r = cas(kv, "a", "other", "new");
  EXPECT_EQ(r.status, KvStatus::kConditionFailed);
  EXPECT_EQ(r.entry, entry("a", "old", 1, 1, 1));
  EXPECT_EQ(r.revision, 1u);
  EXPECT_EQ(kv.state(), before);
}

TEST(KvStore, Cas_OfMissingKeyIsNotFoundEvenExpectingEmpty) {
  KvStateMachine kv;
  put(kv, "b", "");
  const KvState before = kv.state();
  for (const char* expected : {"", "x"}) {
    const KvReply r = cas(kv, "a", expected, "new");
    EXPECT_EQ(r.status, KvStatus::kNotFound) << "expected \"" << expected << "\"";
    EXPECT_FALSE(r.entry.has_value());
  }
  EXPECT_EQ(kv.state(), before);
  // An existing empty value does match "".
  EXPECT_EQ(cas(kv, "b", "", "x").status, KvStatus::kOk);
}

// --- Invalid ops

TEST(KvStore, Execute_RefusesOversizeKeyNamingTheLimit) {
  KvStateMachine kv;
  put(kv, "a", "1");
  const KvState before = kv.state();
  const Bytes long_key(kKeyBytesMax + 1, 'k');
  for (const KvRequest& request : std::vector<KvRequest>{Put{long_key, "v", std::nullopt}, Get{long_key},
                                                         Delete{long_key, std::nullopt}, List{long_key, 0},
                                                         Cas{long_key, "", ""}}) {
    const KvReply r = run(kv, request);
    EXPECT_EQ(r.status, KvStatus::kInvalid) << op_name(request);
    EXPECT_TRUE(contains(r.message, "of 4097 bytes exceeds the limit of 4096 bytes")) << r.message;
    EXPECT_TRUE(contains(r.message, op_name(request))) << r.message;
    EXPECT_EQ(r.revision, 1u);
    EXPECT_FALSE(r.entry.has_value());
  }
  // The longest key is fine.
  EXPECT_EQ(put(kv, Bytes(kKeyBytesMax, 'k'), "v").status, KvStatus::kOk);
  EXPECT_NE(kv.state(), before);
}

TEST(KvStore, Execute_RefusesOversizeValueNamingTheLimit) {
  KvStateMachine kv;
  const KvReply r = put(kv, "a", Bytes(kValueBytesMax + 1, 'v'));
  EXPECT_EQ(r.status, KvStatus::kInvalid);
  EXPECT_EQ(r.message, "put: value of 1040385 bytes exceeds the limit of 1040384 bytes");
  EXPECT_EQ(kv.revision(), 0u);
  EXPECT_EQ(put(kv, "a", Bytes(kValueBytesMax, 'v')).status, KvStatus::kOk);
}

TEST(KvStore, Execute_RefusesCasWhoseValuesTogetherPassTheLimit) {
  KvStateMachine kv;
  const Bytes half(kValueBytesMax / 2 + 1, 'v');
  put(kv, "a", half);
  const KvReply r = cas(kv, "a", half, half);
  EXPECT_EQ(r.status, KvStatus::kInvalid);
  EXPECT_TRUE(contains(r.message, "cas: expected and new value of 1040386 bytes together exceed the limit of 1040384"))
      << r.message;
  EXPECT_EQ(kv.revision(), 1u);
}

TEST(KvStore, Execute_RefusesEmptyKey) {
  KvStateMachine kv;
  for (const KvRequest& request : std::vector<KvRequest>{Put{"", "v", std::nullopt}, Get{""},
                                                         Delete{"", std::nullopt}, Cas{"", "", ""}}) {
    const KvReply r = run(kv, request);
    EXPECT_EQ(r.status, KvStatus::kInvalid) << op_name(request);
    EXPECT_TRUE(contains(r.message, "key is empty")) << r.message;
  }
  EXPECT_EQ(kv.revision(), 0u);
}

TEST(KvStore, Read_RefusesWriteOps) {
  KvStateMachine kv;
  kv.execute(Put{"a", "1", std::nullopt});
  const KvState before = kv.state();
  for (const KvRequest& request : std::vector<KvRequest>{Put{"a", "2", std::nullopt}, Delete{"a", std::nullopt},
                                                         Cas{"a", "1", "2"}}) {
    const KvReply r = kv.read(request);
    EXPECT_EQ(r.status, KvStatus::kInvalid) << op_name(request);
    EXPECT_TRUE(contains(r.message, std::string(op_name(request)) + " changes the store")) << r.message;
  }
  EXPECT_EQ(kv.state(), before);
}

// --- apply() and query(): the same rules behind the codec

Result<KvReply> apply_encoded(KvStateMachine& kv, const KvRequest& request) {
  return decode_reply(kv.apply(encode(request), OpPosition{1, 1}));
}

TEST(KvStore, Apply_RunsEncodedOpsLikeExecute) {
  KvStateMachine through_apply;
  KvStateMachine direct;
  const std::vector<KvRequest> ops = {Put{"a", "1", std::nullopt}, Put{"a", "2", 1},  Put{"b", "x", 0},
                                      Get{"a"},                    List{"", 0},       Cas{"b", "x", "y"},
                                      Delete{"a", 5},              Delete{"a", 2},    Get{"a"}};
  for (const KvRequest& op : ops) {
    const Result<KvReply> r = apply_encoded(through_apply, op);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*r, direct.execute(op)) << op_name(op);
  }
  EXPECT_EQ(through_apply.state(), direct.state());
  EXPECT_EQ(through_apply.revision(), 5u);
}

TEST(KvStore, Apply_MalformedOpGetsTheSameInvalidReplyOnEveryReplica) {
  KvStateMachine a;
  KvStateMachine b;
  for (KvStateMachine* kv : {&a, &b}) kv->execute(Put{"a", "1", std::nullopt});
  const KvState before = a.state();
  Bytes truncated = encode(Put{"key", "value", 3});
  truncated.pop_back();
  Bytes wrong_format = encode(Get{"a"});
  wrong_format[0] = 9;
  Bytes unknown_kind = encode(Get{"a"});
  unknown_kind[1] = 5;
  const std::vector<Bytes> malformed = {"", "\x01", "garbage", truncated, wrong_format, unknown_kind,
                                        encode(Put{"", "v", std::nullopt}), encode(Get{"a"}) + "x"};
  for (const Bytes& op : malformed) {
    const Bytes reply_a = a.apply(op, OpPosition{2, 7});
    const Bytes reply_b = b.apply(op, OpPosition{2, 7});
    EXPECT_EQ(reply_a, reply_b) << printable(op);
    const Result<KvReply> r = decode_reply(reply_a);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, KvStatus::kInvalid) << printable(op);
    EXPECT_FALSE(r->message.empty());
    EXPECT_LE(r->message.size(), kMessageBytesMax);
    EXPECT_EQ(r->revision, 1u);
  }
  EXPECT_EQ(a.state(), before);
  EXPECT_EQ(b.state(), before);
  // The messages say what was wrong.
  EXPECT_TRUE(contains(decode_reply(a.apply(wrong_format, {}))->message, "format 9 is not one this node knows"));
  EXPECT_TRUE(contains(decode_reply(a.apply(truncated, {}))->message, "truncated"));
  EXPECT_TRUE(contains(decode_reply(a.apply(unknown_kind, {}))->message, "unknown op kind 5"));
}

TEST(KvStore, Apply_AnswersReadOpsWithoutChange) {
  KvStateMachine kv;
  kv.execute(Put{"a", "1", std::nullopt});
  const Result<KvReply> r = apply_encoded(kv, Get{"a"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->entry, entry("a", "1", 1, 1, 1));
  EXPECT_EQ(kv.revision(), 1u);
}

TEST(KvStore, Query_AnswersGetAndList) {
  KvStateMachine kv;
  kv.execute(Put{"a", "1", std::nullopt});
  kv.execute(Put{"ab", "2", std::nullopt});
  const Result<KvReply> g = decode_reply(kv.query(encode(Get{"ab"})));
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->entry, entry("ab", "2", 1, 2, 2));
  const Result<KvReply> l = decode_reply(kv.query(encode(List{"a", 1})));
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(keys_of(*l), (std::vector<Bytes>{"a"}));
  EXPECT_TRUE(l->more);
  EXPECT_EQ(l->revision, 2u);
}

TEST(KvStore, Query_RefusesWriteOpsAndGarbage) {
  KvStateMachine kv;
  kv.execute(Put{"a", "1", std::nullopt});
  const KvState before = kv.state();
  for (const Bytes& op : {encode(Put{"a", "2", std::nullopt}), encode(Delete{"a", std::nullopt}),
                          encode(Cas{"a", "1", "2"}), Bytes("junk")}) {
    const Result<KvReply> r = decode_reply(kv.query(op));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, KvStatus::kInvalid) << printable(op);
    EXPECT_EQ(r->revision, 1u);
  }
  EXPECT_EQ(kv.state(), before);
}

// --- Against a model: random ops, a fixed seed, a bounded count.

// The rules of kv_ops.h written as plainly as possible, independently of the store.
struct Model {
  std::map<Bytes, KvEntry> keys;
  std::uint64_t revision = 0;

  KvReply reply(KvStatus s, std::optional<KvEntry> e = std::nullopt) const {
    KvReply r;
    r.status = s;
    r.revision = revision;
    r.entry = std::move(e);
    return r;
  }
  std::optional<KvEntry> find(const Bytes& key) const {
    auto it = keys.find(key);
    if (it == keys.end()) return std::nullopt;
    return it->second;
  }
  std::uint64_t version(const Bytes& key) const { return keys.count(key) ? keys.at(key).version : 0; }
  KvEntry write(const Bytes& key, const Bytes& value) {
    ++revision;
    auto it = keys.find(key);
    if (it == keys.end()) return keys[key] = KvEntry{key, value, 1, revision, revision};
    it->second.value = value;
    it->second.version += 1;
    it->second.mod_revision = revision;
    return it->second;
  }

  KvReply run(const KvRequest& request) {
    if (const Put* p = std::get_if<Put>(&request)) {
      if (p->expected_version && *p->expected_version != version(p->key)) {
        return reply(KvStatus::kConditionFailed, find(p->key));
      }
      return reply(KvStatus::kOk, write(p->key, p->value));
    }
    if (const Get* g = std::get_if<Get>(&request)) {
      return keys.count(g->key) ? reply(KvStatus::kOk, find(g->key)) : reply(KvStatus::kNotFound);
    }
    if (const Delete* d = std::get_if<Delete>(&request)) {
      if (d->expected_version && *d->expected_version != version(d->key)) {
        return reply(KvStatus::kConditionFailed, find(d->key));
      }
      if (!keys.count(d->key)) return reply(KvStatus::kNotFound);
      const KvEntry before = keys.at(d->key);
      keys.erase(d->key);
      ++revision;
      return reply(KvStatus::kOk, before);
    }
    if (const List* l = std::get_if<List>(&request)) {
      KvReply r = reply(KvStatus::kOk);
      const std::uint64_t limit = l->limit == 0 ? kListLimitDefault : l->limit;
      for (const auto& [key, e] : keys) {
        if (key.compare(0, l->prefix.size(), l->prefix) != 0) continue;
        if (r.entries.size() == limit) {
          r.more = true;
          break;
        }
        r.entries.push_back(e);
      }
      return r;
    }
    const Cas& c = std::get<Cas>(request);
    if (!keys.count(c.key)) return reply(KvStatus::kNotFound);
    if (keys.at(c.key).value != c.expected_value) return reply(KvStatus::kConditionFailed, find(c.key));
    return reply(KvStatus::kOk, write(c.key, c.new_value));
  }
};

TEST(KvStore, AgreesWithAModelOverRandomOps) {
  const std::uint64_t seed = 20240917;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  constexpr int kOps = 20'000;
  const std::vector<Bytes> keys = {"a", "ab", "abc", "b", "ba", Bytes("\0", 1), "\xff"};
  const std::vector<Bytes> values = {"", "0", "1", "22"};
  auto pick = [&](const std::vector<Bytes>& from) { return from[rng() % from.size()]; };
  auto maybe_version = [&]() -> std::optional<std::uint64_t> {
    if (rng() % 2 == 0) return std::nullopt;
    return rng() % 4;
  };
  KvStateMachine kv;
  Model model;
  for (int i = 0; i < kOps; ++i) {
    KvRequest op;
    switch (rng() % 5) {
      case 0: op = Put{pick(keys), pick(values), maybe_version()}; break;
      case 1: op = Get{pick(keys)}; break;
      case 2: op = Delete{pick(keys), maybe_version()}; break;
      case 3: op = List{Bytes(pick(keys), 0, rng() % 3), rng() % 4}; break;
      default: op = Cas{pick(keys), pick(values), pick(values)}; break;
    }
    const KvReply got = kv.execute(op);
    const KvReply want = model.run(op);
    ASSERT_EQ(got, want) << "op " << i << ": " << op_name(op);
    const Status s = check_invariants(kv.state());
    ASSERT_TRUE(s.ok()) << "op " << i << ": " << s.error().message;
  }
  EXPECT_EQ(kv.revision(), model.revision);
  EXPECT_GT(model.revision, static_cast<std::uint64_t>(kOps / 10)) << "the ops should change the store often";
}

// --- The invariant checker itself must catch broken states.

TEST(KvStore, CheckInvariants_CatchesBrokenStates) {
  KvState ok;
  ok.revision = 3;
  ok.keys["a"] = KvRecord{"1", 2, 1, 3};
  ok.keys["b"] = KvRecord{"2", 1, 2, 2};
  ASSERT_TRUE(check_invariants(ok).ok()) << check_invariants(ok).error().message;

  auto broken = [&](auto&& change, const std::string& wanted) {
    KvState s = ok;
    change(s);
    const Status st = check_invariants(s);
    ASSERT_FALSE(st.ok()) << "expected: " << wanted;
    EXPECT_TRUE(contains(st.error().message, wanted)) << st.error().message;
  };
  broken([](KvState& s) { s.keys["a"].version = 0; }, "version 0");
  broken([](KvState& s) { s.revision = 2; }, "revisions out of order");
  broken([](KvState& s) { s.keys["b"].create_revision = 0; }, "revisions out of order");
  broken([](KvState& s) { s.keys["a"].version = 4; }, "does not fit revisions");
  broken([](KvState& s) { s.keys["b"].version = 2; }, "does not fit revisions");
  broken([](KvState& s) { s.keys["b"] = KvRecord{"2", 1, 3, 3}; }, "revision 3 also changed key");
  broken([](KvState& s) { s.keys[""] = KvRecord{"", 1, 1, 1}; }, "outside 1 to 4096");
  broken([](KvState& s) { s.keys["c"] = KvRecord{Bytes(kValueBytesMax + 1, 'v'), 1, 3, 3}; },
         "exceeds the limit");
}

}  // namespace
}  // namespace synod::kv
