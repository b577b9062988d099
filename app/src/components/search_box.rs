//! A picker: a search field that is an ARIA combobox over its results' listbox. Arrow keys
//! move through the results (the field keeps focus; `aria-activedescendant` names the option),
//! Enter picks, Escape clears. The policy editor's group and user pickers and Test a user
//! share it.

use leptos::prelude::*;

/// What the field and its listbox share: which option is active, and what each option does.
#[derive(Clone, Copy)]
pub struct Combo {
    /// The listbox's id; options are `{id}-{index}`.
    id: StoredValue<String>,
    pub active: RwSignal<Option<usize>>,
    /// The options now shown, in order (set as the listbox renders).
    picks: StoredValue<Vec<Callback<()>>>,
    /// Whether a listbox with options is shown.
    open: RwSignal<bool>,
}

impl Combo {
    /// `id` must be unique on the page.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: StoredValue::new(id.into()),
            active: RwSignal::new(None),
            picks: StoredValue::new(Vec::new()),
            open: RwSignal::new(false),
        }
    }

    pub(crate) fn id(self) -> String {
        self.id.get_value()
    }

    pub(crate) fn option_id(self, index: usize) -> String {
        format!("{}-{index}", self.id())
    }

    /// Called by the listbox as it renders its options.
    pub(crate) fn show(self, picks: Vec<Callback<()>>) {
        let count = picks.len();
        self.picks.set_value(picks);
        self.open.set(count > 0);
        if self.active.get_untracked().is_some_and(|i| i >= count) {
            self.active.set(None);
        }
    }

    /// The listbox went away (no text, no results).
    pub(crate) fn hide(self) {
        self.picks.set_value(Vec::new());
        self.open.set(false);
        self.active.set(None);
    }

    fn step(self, by: isize) {
        let count = self.picks.with_value(Vec::len) as isize;
        if count == 0 {
            return;
        }
        let next = match self.active.get_untracked() {
            None if by > 0 => 0,
            None => count - 1,
            Some(i) => (i as isize + by).rem_euclid(count),
        };
        self.active.set(Some(next as usize));
    }

    fn pick_active(self) -> bool {
        let Some(i) = self.active.get_untracked() else { return false };
        let pick = self.picks.with_value(|p| p.get(i).copied());
        if let Some(pick) = pick {
            self.active.set(None);
            pick.run(());
            return true;
        }
        false
    }
}

/// The field. `name` makes it part of a plain form (Test a user works without JavaScript).
#[component]
pub(crate) fn SearchBox(
    label: &'static str,
    placeholder: &'static str,
    text: RwSignal<String>,
    combo: Combo,
    #[prop(optional)] name: Option<&'static str>,
    #[prop(optional)] required: bool,
    #[prop(optional)] on_type: Option<Callback<()>>,
) -> impl IntoView {
    let keydown = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "ArrowDown" => {
            ev.prevent_default();
            combo.step(1);
        }
        "ArrowUp" => {
            ev.prevent_default();
            combo.step(-1);
        }
        // Enter picks; with nothing active it must not submit a policy form half made.
        "Enter" if combo.pick_active() || name.is_none() => ev.prevent_default(),
        "Escape" if combo.open.get_untracked() || !text.with_untracked(String::is_empty) => {
            ev.prevent_default();
            text.set(String::new());
            combo.hide();
        }
        _ => {}
    };
    view! {
        <label class="field-label">
            {label}
            <input
                class="field-input"
                type="search"
                role="combobox"
                autocomplete="off"
                name=name
                required=required
                placeholder=placeholder
                aria-autocomplete="list"
                aria-controls=combo.id()
                aria-expanded=move || combo.open.get().to_string()
                aria-activedescendant=move || combo.active.get().map(|i| combo.option_id(i))
                value=text.get_untracked()
                prop:value=move || text.get()
                on:input=move |ev| {
                    text.set(event_target_value(&ev));
                    combo.active.set(None);
                    if let Some(f) = on_type {
                        f.run(());
                    }
                }
                on:keydown=keydown
            />
        </label>
    }
}
