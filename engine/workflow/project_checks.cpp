// ferry.yaml against the workflows it names: what only the workflow can answer. A form whose
// field the workflow does not take, or that leaves out an input the workflow requires, fails
// every submission with 422; a schedule's inputs that do not resolve fail every run. Both are
// found here, before anyone submits or anything is due.
#include "workflow/project_config.h"

#include <algorithm>

namespace ferry::workflow {

namespace {

std::string input_names(const Workflow& wf) {
    std::string out;
    for (const InputSpec& in : wf.inputs) {
        if (!out.empty()) out += ", ";
        out += in.name;
    }
    return out.empty() ? "none" : out;
}

// The JSON type a field's values have once converted (convert_form_value).
std::string field_value_type(const std::string& field_type) {
    if (field_type == "number") return "number";
    if (field_type == "integer") return "integer";
    if (field_type == "boolean") return "boolean";
    if (field_type == "multi-choice") return "array";
    return "string";  // string, text, email, choice, date, datetime
}

bool input_takes(const std::string& input_type, const std::string& value_type) {
    return input_type == "any" || input_type == value_type ||
           (input_type == "number" && value_type == "integer");
}

}  // namespace

std::vector<Diagnostic> check_form_inputs(const FormSpec& form, const Workflow& wf) {
    std::vector<Diagnostic> out;
    const std::string who = "form '" + form.name + "'";
    for (const FormField& field : form.fields) {
        auto in = std::find_if(wf.inputs.begin(), wf.inputs.end(),
                               [&](const InputSpec& i) { return i.name == field.name; });
        if (in == wf.inputs.end()) {
            out.push_back({field.mark, who + " field '" + field.name + "': workflow '" + wf.name +
                                           "' has no input '" + field.name +
                                           "' (its inputs: " + input_names(wf) + ")"});
            continue;
        }
        std::string type = field_value_type(field.type);
        if (!input_takes(in->type, type)) {
            const char* article = type == "array" || type == "integer" ? "an " : "a ";
            out.push_back({field.mark, who + " field '" + field.name + "' (" + field.type +
                                           ") gives " + article + type + ", but workflow '" +
                                           wf.name + "' input '" + in->name + "' is " + in->type});
        }
    }
    for (const InputSpec& in : wf.inputs) {
        if (!in.required || in.default_value) continue;
        bool covered = std::any_of(form.fields.begin(), form.fields.end(),
                                   [&](const FormField& f) { return f.name == in.name; });
        if (!covered) {
            out.push_back({form.mark, who + ": workflow '" + wf.name + "' requires input '" +
                                          in.name + "', and no field of the form gives it"});
        }
    }
    return out;
}

std::vector<Diagnostic> check_schedule_inputs(const ScheduleEntry& schedule, const Workflow& wf) {
    // One diagnostic a problem, each at the input it names when the schedule gives it (the
    // key's place: its value is what is wrong), else at the schedule (one not given).
    std::vector<Diagnostic> out;
    for (const std::string& problem : input_problems(wf, schedule.inputs)) {
        const Mark* given = named_input_mark(problem, schedule.input_marks);
        out.push_back({given ? *given : schedule.mark, "schedule '" + schedule.name +
                                                           "': inputs for workflow '" + wf.name +
                                                           "': " + problem});
    }
    return out;
}

}  // namespace ferry::workflow
