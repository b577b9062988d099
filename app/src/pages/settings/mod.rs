//! `/settings`: the server's settings and the signed-in person's account.

pub mod account;
pub mod api_tokens;
pub mod identity_providers;
pub mod presets;
pub mod provider_wizard;
pub mod provisioning;
pub mod role_mappings;
pub mod test_sign_in;

use leptos::prelude::*;

use crate::pages::error_text;
use crate::{
    api::console::console_settings,
    layout::{loading, DataTable, ErrorNote, PageHeader},
};

/// `/settings`: what the server runs with. Changed through `PORTCULLIS_*` variables or `portcullis.toml`.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let settings = Resource::new(|| (), |_| console_settings());
    view! {
        <PageHeader
            title="Settings"
            intro="Your account, and the settings this server started with. Change those with PORTCULLIS_* environment variables or portcullis.toml, then restart."
        />
        <crate::pages::settings::account::MyAccountPanel />
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match settings.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(s) => {
                        view! {
                            <DataTable headers=&["Setting", "Value", "Meaning"]>
                                        {s
                                            .rows
                                            .into_iter()
                                            .map(|r| {
                                                view! {
                                                    <tr>
                                                        <td class="px-4 py-2 font-mono text-xs">{r.name}</td>
                                                        <td class="px-4 py-2 font-mono text-xs break-all">{r.value}</td>
                                                        <td class="px-4 py-2 text-slate-600">{r.help}</td>
                                                    </tr>
                                                }
                                            })
                                            .collect_view()}
                                    </DataTable>
                            <p class="mt-3 text-xs text-slate-500">
                                {match s.config_file {
                                    Some(f) => format!("Settings file: {f}. "),
                                    None => "No settings file is in use. ".to_string(),
                                }}
                                {format!("Portcullis {}", s.version)}
                            </p>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}
