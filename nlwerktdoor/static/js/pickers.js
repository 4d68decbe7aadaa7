// Progressive enhancement for the occupation and skill pickers. Without JavaScript the forms still work:
// a typed occupation label is resolved on submit, an empty skill list means "the occupation's essential skills".
(function () {
  "use strict";

  function debounce(fn, ms) {
    let t;
    return function () { clearTimeout(t); const args = arguments; t = setTimeout(() => fn.apply(null, args), ms); };
  }

  function lang() { return document.documentElement.lang || "nl"; }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return null;
    return response.json();
  }

  function addSkill(picker, id, label) {
    const list = picker.querySelector(".skill-list");
    const name = picker.dataset.skillPicker;
    if (list.querySelector('input[value="' + CSS.escape(id) + '"]')) return;
    const li = document.createElement("li");
    const lab = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox"; box.name = name; box.value = id; box.checked = true;
    lab.append(box, " " + label);
    li.append(lab);
    list.append(li);
  }

  function suggestionList(input, items, onPick) {
    let ul = input.parentElement.querySelector(".suggestions");
    if (!ul) { ul = document.createElement("ul"); ul.className = "suggestions"; input.after(ul); }
    ul.replaceChildren();
    items.forEach((item) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button"; b.textContent = item.label;
      b.addEventListener("click", () => { onPick(item); ul.replaceChildren(); });
      li.append(b); ul.append(li);
    });
  }

  function enhanceSkillPicker(picker) {
    const search = picker.querySelector("[data-skill-search]");
    if (!search) return;
    search.removeAttribute("name"); // with JavaScript, skills are added as checkboxes instead
    search.addEventListener("input", debounce(async () => {
      const q = search.value.trim();
      if (q.length < 2) return;
      const data = await getJSON("/api/skills?lang=" + lang() + "&q=" + encodeURIComponent(q));
      if (!data) return;
      suggestionList(search, data.results, (item) => { addSkill(picker, item.id, item.label); search.value = ""; });
    }, 200));
  }

  function enhanceOccupationPicker(input) {
    const form = input.form;
    input.addEventListener("input", debounce(async () => {
      const q = input.value.trim();
      if (q.length < 2) return;
      const data = await getJSON("/api/occupations?lang=" + lang() + "&q=" + encodeURIComponent(q));
      if (!data) return;
      suggestionList(input, data.results, async (item) => {
        input.value = item.label;
        // Prefill the occupation's essential skills; people can untick or add skills afterwards.
        const picker = form && form.querySelector("[data-skill-picker]");
        if (!picker) return;
        const skills = await getJSON("/api/occupations/" + item.id + "/skills?lang=" + lang());
        if (!skills) return;
        picker.querySelector(".skill-list").replaceChildren();
        skills.essential.forEach((s) => addSkill(picker, s.id, s.label));
      });
    }, 200));
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-skill-picker]").forEach(enhanceSkillPicker);
    document.querySelectorAll("[data-occupation-picker]").forEach(enhanceOccupationPicker);
  });
})();
