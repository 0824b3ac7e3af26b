// YAML streams as documents, without yaml-cpp 0.7's endless LoadAll (loader_internal.h).
#include "workflow/loader_internal.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <optional>
#include <sstream>

namespace ferry::workflow::detail {

namespace {

// Whether the quoted scalar whose opening quote is at text[at] has its closing quote. yaml-cpp
// 0.7 ends one the file ends in without a word: `message: 'x` took every line after it
// as its text, and the steps written there were gone.
bool quote_closes(std::string_view text, size_t at) {
    const char quote = text[at];
    for (size_t i = at + 1; i < text.size(); ++i) {
        if (quote == '"' && text[i] == '\\') {
            ++i;  // the escaped character
        } else if (text[i] == quote) {
            if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
                ++i;  // '' is a quote inside single quotes
                continue;
            }
            return true;
        }
    }
    return false;
}

// Notes where a document's first node starts and whether it is all the document holds, and
// refuses a quoted scalar the end of the file closed.
class FirstNode final : public YAML::EventHandler {
  public:
    explicit FirstNode(std::string_view text) : text_(text) {}
    std::optional<size_t> pos;  // of the first node
    bool only_null = true;      // nothing but one null (what an unreadable token gives)

    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& m, YAML::anchor_t) override { note(m, true); }
    void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { note(m, false); }
    void OnScalar(const YAML::Mark& m, const std::string& tag, YAML::anchor_t,
                  const std::string&) override {
        note(m, false);
        // "!": not plain (quoted, or a block scalar, which starts with | or >).
        const size_t at = size_t(m.pos);
        if (tag == "!" && m.pos >= 0 && at < text_.size() &&
            (text_[at] == '"' || text_[at] == '\'') && !quote_closes(text_, at))
            throw YAML::ParserException(m, "the quoted text that starts here is not closed: it "
                                           "runs to the end of the file");
    }
    void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        note(m, false);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
        note(m, false);
    }
    void OnMapEnd() override {}

  private:
    std::string_view text_;
    void note(const YAML::Mark& m, bool null) {
        if (!pos) pos = size_t(m.pos);
        only_null = only_null && null;
    }
};

}  // namespace

std::vector<YAML::Node> load_yaml_documents(const std::string& body) {
    try {
        std::istringstream in(body);
        YAML::Parser parser(in);
        std::optional<size_t> previous;
        for (;;) {
            FirstNode first(body);
            if (!parser.HandleNextDocument(first)) break;
            if (first.only_null && first.pos && previous && *first.pos == *previous) {
                YAML::Mark at;  // 0-based, as yaml-cpp's
                at.pos = int(*first.pos);
                for (size_t i = 0; i < *first.pos && i < body.size(); ++i) {
                    at.column = body[i] == '\n' ? 0 : at.column + 1;
                    at.line += body[i] == '\n';
                }
                throw YAML::ParserException(at, "no YAML node can start here");
            }
            previous = first.pos;
        }
        return YAML::LoadAll(body);
    } catch (const YAML::DeepRecursion& e) {
        // yaml-cpp's depth guard says "bad file" (the message it passes it).
        throw YAML::ParserException(e.mark, "data nested too deeply for the YAML parser (more "
                                            "than about 500 levels)");
    }
}

}  // namespace ferry::workflow::detail
