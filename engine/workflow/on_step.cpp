// `on_step`: status synchronisation written as data. An entry names a task (typically
// ticket.update adding a work note) to run after each step it follows. The loader expands it
// into ordinary steps, one per followed step, so every note is durable, retried, previewed by
// dry-run and recorded like any step, and a resumed execution never posts one twice.
#include "workflow/loader_internal.h"

#include <algorithm>

namespace ferry::workflow::detail {
namespace {

// "analyze.on_step" for the first entry, "analyze.on_step2" for the second. A step id cannot
// hold a dot, so a generated id never collides with one written in the file.
std::string generated_id(const std::string& followed, size_t entry_index) {
    return followed + ".on_step" + (entry_index == 0 ? "" : std::to_string(entry_index + 1));
}

// The step ids an entry's `steps:` lists, as written.
std::vector<std::pair<std::string, Mark>> listed_steps(Context& ctx, const YAML::Node& node) {
    std::vector<YAML::Node> items;
    if (node.IsScalar())
        items.push_back(node);
    else if (node.IsSequence() && node.size() == 0)
        // Neither "every step" (that is no `steps:`) nor any one: it followed nothing, quietly.
        ctx.error(node, "'steps' lists no step: name at least one, or leave 'steps' out to "
                        "follow every step");
    else if (node.IsSequence())
        for (const YAML::Node& item : node)
            items.push_back(item);
    else
        ctx.error(node, "'steps' must be a step id or a list of step ids, got " +
                            describe_node(ctx, node));
    std::vector<std::pair<std::string, Mark>> out;
    for (const YAML::Node& item : items) {
        if (!item.IsScalar() || item.Scalar().empty()) {
            ctx.error(item, "'steps' must list step ids, got " + describe_node(ctx, item));
            continue;
        }
        out.emplace_back(item.Scalar(), ctx.mark(item));
    }
    return out;
}

}  // namespace

void parse_on_step(Context& ctx, const YAML::Node& node, Parsed& p) {
    if (node.IsNull()) return;
    if (!node.IsSequence()) {
        ctx.error(node, "'on_step' must be a list of entries such as {task: ticket.update, "
                        "with: {...}}, got " +
                            describe_node(ctx, node));
        return;
    }
    const size_t file_steps = p.wf.steps.size();  // generated steps never follow each other
    std::vector<std::string> ids;
    for (size_t i = 0; i < file_steps; ++i)
        if (p.steps[i].has_id) ids.push_back(p.wf.steps[i].id);

    size_t index = 0;
    for (const YAML::Node& entry : node) {
        const size_t n = index++;
        const std::string who = "on_step entry #" + std::to_string(n + 1);
        if (!entry.IsMap()) {
            ctx.error(entry, "each on_step entry must be a mapping with 'task' and 'with', got " +
                                 describe_node(ctx, entry));
            continue;
        }
        StepFields parsed = parse_step_fields(ctx, entry, who, {"steps"}, nullptr, p.tasks);
        std::vector<std::pair<std::string, Mark>> followed;
        bool listed = false;
        for (const auto& [key, value] : parsed.other) {
            if (key != "steps") continue;
            listed = true;
            followed = listed_steps(ctx, value);
        }
        if (!listed) {
            // Every step the entry does not itself read: the step that creates the ticket is
            // what the notes go to, not a step to report on.
            for (const std::string& id : ids) {
                bool read =
                    std::any_of(parsed.extras.refs.begin(), parsed.extras.refs.end(),
                                [&](const Ref& r) { return r.root == "steps" && r.name == id; });
                if (!read) followed.emplace_back(id, parsed.step.mark);
            }
        }
        // A note that cannot be posted must not fail the work it reports on.
        if (!parsed.step.field_marks.count("on_error")) parsed.step.on_error = "continue";

        std::vector<std::string> seen;
        for (const auto& [id, mark] : followed) {
            if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
                ctx.error(mark, who + " follows unknown step '" + id + "'" + did_you_mean(id, ids));
                continue;
            }
            if (std::find(seen.begin(), seen.end(), id) != seen.end()) continue;
            seen.push_back(id);
            Step step = parsed.step;
            step.id = generated_id(id, n);
            step.event_step = id;
            if (std::find(step.needs.begin(), step.needs.end(), id) == step.needs.end())
                step.needs.push_back(id);
            StepExtras ex = parsed.extras;
            ex.needs.emplace_back(id, mark);
            ex.who = who;  // one message per entry, not one per generated step
            p.wf.steps.push_back(std::move(step));
            p.steps.push_back(std::move(ex));
        }
    }
}

}  // namespace ferry::workflow::detail
