// Rule matching in two steps. An index over the cheap, selective conditions
// (method, host, path, one header and one query key per rule) yields a bitmap
// of rules that may match: a necessary condition only, never a sufficient one.
// The candidates are then fully evaluated in priority order and the first
// match wins, so the index changes cost, never the answer.
//
// Decisions where ALB leaves room (pinned in tests/unit/listeners):
// - query: key and value are compared after percent-decoding the request side
//   (%XX only; '+' stays '+'; a malformed escape stays literal); the key is a
//   wildcard pattern too, so key "*" means "any parameter" (ALB's key-less
//   form). A parameter without '=' has the empty value. Repeated keys: any
//   occurrence may match.
// - header/query condition with no values: the name/key being present is enough.
// - header values are matched one header line at a time (no comma splitting).
// - missing source address or header list: those conditions do not match.
#include "lb/routing/rules.h"

#include <algorithm>
#include <array>
#include <bit>
#include <memory>
#include <span>
#include <unordered_map>

#include "lb/http/percent_decode.h"
#include "lb/routing/wildcard.h"

namespace lb {

namespace {

// ---------------------------------------------------------------- lookup helpers

// FNV-1a that can fold ASCII case, so request text needs no lower-cased copy.
struct TextHash {
    using is_transparent = void;
    bool fold = false;
    size_t operator()(std::string_view text) const {
        uint64_t hash = 14695981039346656037ull;
        for (char c : text) {
            hash ^= static_cast<uint8_t>(fold ? ascii_lower(c) : c);
            hash *= 1099511628211ull;
        }
        return static_cast<size_t>(hash);
    }
};

struct TextEqual {
    using is_transparent = void;
    bool fold = false;
    bool operator()(std::string_view a, std::string_view b) const {
        return fold ? iequals(a, b) : a == b;
    }
};

template <class Value>
using TextMap = std::unordered_map<std::string, Value, TextHash, TextEqual>;

template <class Value>
TextMap<Value> make_text_map(bool fold) {
    return TextMap<Value>(8, TextHash{fold}, TextEqual{fold});
}

// Rules (indexes into the priority-sorted list) listed under one index key.
class RuleBits {
public:
    void add(uint32_t rule) { ids_.push_back(rule); }

    // Long lists become bitmaps: OR-ing a few words beats one dependent
    // read-modify-write per rule (1,000 rules under "*.example.com").
    void seal(size_t words) {
        if (ids_.size() <= 4 || ids_.size() * 2 <= words) return;
        dense_.assign(words, 0);
        for (uint32_t id : ids_) dense_[id >> 6] |= uint64_t{1} << (id & 63);
        ids_ = {};
    }

    void or_into(uint64_t* out) const {
        for (size_t w = 0; w < dense_.size(); ++w) out[w] |= dense_[w];
        for (uint32_t id : ids_) out[id >> 6] |= uint64_t{1} << (id & 63);
    }

private:
    std::vector<uint32_t> ids_;
    std::vector<uint64_t> dense_;
};

// ---------------------------------------------------------------- literal trie

// Literal prefixes (or suffixes, stored reversed) of patterns; one walk over
// the request text finds every key that starts (ends) it.
class LiteralTrie {
public:
    LiteralTrie(bool reversed, bool fold) : reversed_(reversed), fold_(fold) {}

    void insert(std::string_view key, uint32_t rule) {  // key already folded
        uint32_t node = 0;
        for (size_t i = 0; i < key.size(); ++i) {
            char c = reversed_ ? key[key.size() - 1 - i] : key[i];
            uint32_t next = child(node, c);
            if (next == 0) {
                next = static_cast<uint32_t>(nodes_.size());
                nodes_.emplace_back();
                auto& children = nodes_[node].children;
                auto at = std::lower_bound(children.begin(), children.end(), c,
                                           [](const auto& entry, char k) { return entry.first < k; });
                children.insert(at, {c, next});
            }
            node = next;
        }
        nodes_[node].rules.add(rule);
    }

    void seal(size_t words) {
        for (auto& node : nodes_) node.rules.seal(words);
    }

    void collect(std::string_view text, uint64_t* out) const {
        if (nodes_.size() == 1) return;
        uint32_t node = 0;
        for (size_t i = 0; i < text.size(); ++i) {
            char c = reversed_ ? text[text.size() - 1 - i] : text[i];
            node = child(node, fold_ ? ascii_lower(c) : c);
            if (node == 0) return;
            nodes_[node].rules.or_into(out);
        }
    }

private:
    struct Node {
        std::vector<std::pair<char, uint32_t>> children;  // sorted by char
        RuleBits rules;
    };

    uint32_t child(uint32_t node, char c) const {  // 0 = none (the root is nobody's child)
        const auto& children = nodes_[node].children;
        auto at = std::lower_bound(children.begin(), children.end(), c,
                                   [](const auto& entry, char k) { return entry.first < k; });
        return at != children.end() && at->first == c ? at->second : 0;
    }

    std::vector<Node> nodes_{1};
    bool reversed_;
    bool fold_;
};

// ---------------------------------------------------------------- pattern index

// Pre-filter for one text against many patterns: exact patterns by hash,
// others by their longer literal end; patterns with no literal end ("*",
// "*x*") are always candidates.
class PatternIndex {
public:
    explicit PatternIndex(bool fold)
        : exact_(make_text_map<RuleBits>(fold)), prefixes_(false, fold), suffixes_(true, fold) {}

    void add(const Wildcard& pattern, uint32_t rule) {
        if (pattern.shape() == Wildcard::Shape::exact) {
            exact_[std::string(pattern.literal_prefix())].add(rule);
            return;
        }
        std::string_view prefix = pattern.literal_prefix(), suffix = pattern.literal_suffix();
        if (!prefix.empty() && prefix.size() >= suffix.size())
            prefixes_.insert(prefix, rule);
        else if (!suffix.empty())
            suffixes_.insert(suffix, rule);
        else
            add_always(rule);
    }

    void add_always(uint32_t rule) { always_.add(rule); }

    void seal(size_t words) {
        for (auto& [key, rules] : exact_) rules.seal(words);
        prefixes_.seal(words);
        suffixes_.seal(words);
        always_.seal(words);
    }

    void collect(std::string_view text, uint64_t* out) const {
        if (!exact_.empty()) {
            auto found = exact_.find(text);
            if (found != exact_.end()) found->second.or_into(out);
        }
        prefixes_.collect(text, out);
        suffixes_.collect(text, out);
        always_.or_into(out);
    }

private:
    TextMap<RuleBits> exact_;
    LiteralTrie prefixes_;
    LiteralTrie suffixes_;
    RuleBits always_;
};

// ---------------------------------------------------------------- query parameters

using Param = std::pair<std::string_view, std::string_view>;

// The request's query split into decoded key/value pairs, on first use only.
// Views point into the request or, when escapes need decoding, into a
// per-thread buffer that keeps its capacity (no allocation once warm).
class QueryParams {
public:
    explicit QueryParams(std::string_view raw) : raw_(raw) {}
    QueryParams(const QueryParams&) = delete;
    QueryParams& operator=(const QueryParams&) = delete;

    std::span<const Param> get() {
        if (!parsed_) parse();
        return {data_, count_};
    }

private:
    void parse() {
        parsed_ = true;
        if (raw_.empty()) return;
        size_t most = static_cast<size_t>(std::count(raw_.begin(), raw_.end(), '&')) + 1;
        if (most <= kInline) {
            data_ = inline_;
        } else {
            overflow_.resize(most);
            data_ = overflow_.data();
        }
        char* decoded = nullptr;
        size_t used = 0;
        if (raw_.find('%') != std::string_view::npos) {
            thread_local std::string scratch;
            scratch.resize(raw_.size());
            decoded = scratch.data();
        }
        auto decode = [&](std::string_view text) {
            if (decoded == nullptr) return text;
            size_t length = percent_decode(text, decoded + used);
            std::string_view out(decoded + used, length);
            used += length;
            return out;
        };
        std::string_view rest = raw_;
        while (true) {
            size_t amp = rest.find('&');
            std::string_view piece = rest.substr(0, amp);
            if (!piece.empty()) {
                size_t eq = piece.find('=');
                std::string_view key = piece.substr(0, eq);
                std::string_view value = eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1);
                std::string_view decoded_key = decode(key);  // key first: decode() appends
                std::construct_at(data_ + count_++, decoded_key, decode(value));
            }
            if (amp == std::string_view::npos) break;
            rest.remove_prefix(amp + 1);
        }
    }

    std::string_view raw_;
    bool parsed_ = false;
    Param* data_ = nullptr;
    size_t count_ = 0;
    // Left uninitialized: most requests never parse their query.
    static constexpr size_t kInline = 32;
    union {
        Param inline_[kInline];
    };
    std::vector<Param> overflow_;  // only for unusually many parameters
};

// ---------------------------------------------------------------- compiled rules

struct HeaderCondition {
    std::string name;
    std::vector<Wildcard> values;  // case-insensitive; empty = present with any value
};

struct QueryCondition {
    Wildcard key;                  // case-sensitive
    std::vector<Wildcard> values;  // case-sensitive; empty = present with any value
};

bool any_matches(const std::vector<Wildcard>& patterns, std::string_view text) {
    for (const auto& pattern : patterns)
        if (pattern.matches(text)) return true;
    return false;
}

struct CompiledRule {
    int priority = 0;
    std::vector<std::string> methods;
    std::vector<Wildcard> hosts;
    std::vector<Wildcard> paths;
    std::vector<Cidr> sources;
    std::vector<HeaderCondition> headers;
    std::vector<QueryCondition> queries;
    conf::Action action;

    // Cheapest conditions first.
    bool matches(const RequestView& request, QueryParams& query) const {
        if (!methods.empty() &&
            std::find(methods.begin(), methods.end(), request.method) == methods.end())
            return false;
        if (!hosts.empty() && !any_matches(hosts, request.host)) return false;
        if (!paths.empty() && !any_matches(paths, request.path)) return false;
        if (!sources.empty()) {
            if (request.source == nullptr) return false;
            bool inside = false;
            for (const auto& cidr : sources)
                if (cidr.contains(*request.source)) {
                    inside = true;
                    break;
                }
            if (!inside) return false;
        }
        for (const auto& condition : headers)
            if (!header_matches(condition, request)) return false;
        for (const auto& condition : queries)
            if (!query_matches(condition, query)) return false;
        return true;
    }

    static bool header_matches(const HeaderCondition& condition, const RequestView& request) {
        if (request.headers == nullptr) return false;
        for (const auto& [name, value] : *request.headers)
            if (iequals(name, condition.name) &&
                (condition.values.empty() || any_matches(condition.values, value)))
                return true;
        return false;
    }

    static bool query_matches(const QueryCondition& condition, QueryParams& query) {
        for (const auto& [key, value] : query.get())
            if (condition.key.matches(key) &&
                (condition.values.empty() || any_matches(condition.values, value)))
                return true;
        return false;
    }
};

// ---------------------------------------------------------------- the rule set

class IndexedRuleSet final : public RuleSet {
public:
    static Result<std::shared_ptr<const RuleSet>> build(const std::vector<conf::Rule>& rules,
                                                        const conf::Action& default_action) {
        auto set = std::make_shared<IndexedRuleSet>();
        set->default_ = default_action;
        std::vector<const conf::Rule*> order;
        order.reserve(rules.size());
        for (const auto& rule : rules) order.push_back(&rule);
        std::stable_sort(order.begin(), order.end(),
                         [](const conf::Rule* a, const conf::Rule* b) { return a->priority < b->priority; });

        set->words_ = (order.size() + 63) / 64;
        for (Dimension* dimension : set->dimensions()) dimension->absent.assign(set->words_, 0);
        set->rules_.reserve(order.size());
        for (size_t i = 0; i < order.size(); ++i) {
            auto added = set->add(*order[i], static_cast<uint32_t>(i));
            if (!added) return Error{added.error()};
        }
        set->seal();
        return std::shared_ptr<const RuleSet>(std::move(set));
    }

    const conf::Action* match(const RequestView& request) const override {
        if (rules_.empty()) return &default_;
        QueryParams query(request.query);
        const size_t words = words_;  // a local: writes through uint64_t* may not alias it

        constexpr size_t kInlineWords = 64;  // 4096 rules without touching the heap
        std::array<uint64_t, kInlineWords> candidate_buffer, dimension_buffer;
        std::vector<uint64_t> large;
        uint64_t* candidates = candidate_buffer.data();
        uint64_t* scratch = dimension_buffer.data();
        if (words > kInlineWords) {
            large.resize(2 * words);
            candidates = large.data();
            scratch = large.data() + words;
        }
        std::fill(candidates, candidates + words, ~uint64_t{0});
        if (size_t tail = rules_.size() % 64) candidates[words - 1] = (uint64_t{1} << tail) - 1;

        auto narrow = [&](const Dimension& dimension, auto&& collect) {
            if (!dimension.used) return;
            std::copy(dimension.absent.begin(), dimension.absent.end(), scratch);
            collect(scratch);
            for (size_t w = 0; w < words; ++w) candidates[w] &= scratch[w];
        };
        narrow(method_, [&](uint64_t* out) {
            auto found = methods_.find(request.method);
            if (found != methods_.end()) found->second.or_into(out);
        });
        narrow(host_, [&](uint64_t* out) { hosts_.collect(request.host, out); });
        narrow(path_, [&](uint64_t* out) { paths_.collect(request.path, out); });
        narrow(header_, [&](uint64_t* out) {
            if (request.headers == nullptr) return;
            for (const auto& [name, value] : *request.headers) {
                auto found = headers_.find(name);
                if (found != headers_.end()) found->second.collect(value, out);
            }
        });
        narrow(query_, [&](uint64_t* out) {
            for (const auto& [key, value] : query.get()) {
                auto found = queries_.find(key);
                if (found != queries_.end()) found->second.collect(value, out);
            }
        });

        for (size_t w = 0; w < words; ++w) {
            for (uint64_t bits = candidates[w]; bits != 0; bits &= bits - 1) {
                const CompiledRule& rule = rules_[w * 64 + static_cast<size_t>(std::countr_zero(bits))];
                if (rule.matches(request, query)) return &rule.action;
            }
        }
        return &default_;
    }

private:
    // One indexed kind of condition: rules without it are always candidates.
    struct Dimension {
        bool used = false;              // some rule is indexed here
        std::vector<uint64_t> absent;   // rules this dimension cannot exclude
        void skip(uint32_t rule) { absent[rule >> 6] |= uint64_t{1} << (rule & 63); }
    };

    std::array<Dimension*, 5> dimensions() { return {&method_, &host_, &path_, &header_, &query_}; }

    void seal() {
        for (auto& [method, rules] : methods_) rules.seal(words_);
        hosts_.seal(words_);
        paths_.seal(words_);
        for (auto& [name, index] : headers_) index.seal(words_);
        for (auto& [key, index] : queries_) index.seal(words_);
    }

    Status add(const conf::Rule& rule, uint32_t id) {
        CompiledRule compiled;
        compiled.priority = rule.priority;
        compiled.action = rule.action;
        const conf::Conditions& conditions = rule.conditions;

        compiled.methods = conditions.method;
        if (compiled.methods.empty()) method_.skip(id);
        for (const auto& method : compiled.methods) {
            method_.used = true;
            methods_[method].add(id);
        }

        if (conditions.host.empty()) host_.skip(id);
        for (const auto& host : conditions.host) {
            compiled.hosts.emplace_back(host, Wildcard::Case::insensitive);
            hosts_.add(compiled.hosts.back(), id);
            host_.used = true;
        }

        if (conditions.path.empty()) path_.skip(id);
        for (const auto& path : conditions.path) {
            compiled.paths.emplace_back(path, Wildcard::Case::sensitive);
            paths_.add(compiled.paths.back(), id);
            path_.used = true;
        }

        compiled.sources = conditions.source_ip;

        for (const auto& header : conditions.header) {
            if (header.key.empty())
                return Error{"rule priority " + std::to_string(rule.priority) +
                             ": header condition has an empty name"};
            HeaderCondition condition;
            for (char c : header.key) condition.name.push_back(ascii_lower(c));
            for (const auto& value : header.values)
                condition.values.emplace_back(value, Wildcard::Case::insensitive);
            compiled.headers.push_back(std::move(condition));
        }
        // Indexing one header per rule suffices: every header must match anyway.
        if (compiled.headers.empty()) {
            header_.skip(id);
        } else {
            const HeaderCondition& first = compiled.headers.front();
            auto& index = headers_.try_emplace(first.name, true).first->second;
            if (first.values.empty()) index.add_always(id);
            for (const auto& value : first.values) index.add(value, id);
            header_.used = true;
        }

        for (const auto& query : conditions.query) {
            QueryCondition condition{Wildcard(query.key, Wildcard::Case::sensitive), {}};
            for (const auto& value : query.values)
                condition.values.emplace_back(value, Wildcard::Case::sensitive);
            compiled.queries.push_back(std::move(condition));
        }
        // Only a literal key can be looked up; "*" keys leave the rule unindexed.
        auto literal = std::find_if(compiled.queries.begin(), compiled.queries.end(), [](const auto& q) {
            return q.key.shape() == Wildcard::Shape::exact;
        });
        if (literal == compiled.queries.end()) {
            query_.skip(id);
        } else {
            auto& index = queries_.try_emplace(literal->key.pattern(), false).first->second;
            if (literal->values.empty()) index.add_always(id);
            for (const auto& value : literal->values) index.add(value, id);
            query_.used = true;
        }

        rules_.push_back(std::move(compiled));
        return Ok{};
    }

    std::vector<CompiledRule> rules_;  // by priority, lowest first
    conf::Action default_;
    size_t words_ = 0;                 // bitmap length in 64-bit words

    Dimension method_, host_, path_, header_, query_;
    TextMap<RuleBits> methods_ = make_text_map<RuleBits>(false);
    PatternIndex hosts_{true};
    PatternIndex paths_{false};
    TextMap<PatternIndex> headers_ = make_text_map<PatternIndex>(true);   // by folded name
    TextMap<PatternIndex> queries_ = make_text_map<PatternIndex>(false);  // by decoded key
};

}  // namespace

Result<std::shared_ptr<const RuleSet>> RuleSet::compile(const std::vector<conf::Rule>& rules,
                                                        const conf::Action& default_action) {
    return IndexedRuleSet::build(rules, default_action);
}

}  // namespace lb
