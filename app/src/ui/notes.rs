//! Release notes: `/whats-new` for every signed-in user (opening it clears the "What's new"
//! badge), and `/admin/notes` where admins write them in Markdown, as drafts or published.
//! The HTML shown was rendered and sanitised by the server.

use super::Auth;
use crate::api::AppError;
use crate::api::notes::{
    AdminNote, NoteDraft, delete_admin_note, load_admin_notes, load_release_notes, save_admin_note,
};
use leptos::prelude::*;
use leptos_meta::Title;

use super::admin::format_utc_date as day;

#[component]
pub fn WhatsNewPage() -> impl IntoView {
    let notes = Resource::new(|| (), |_| load_release_notes());
    // Read now: the badge in the navigation goes out (once; the answer has it off).
    let auth = expect_context::<Auth>();
    Effect::new(move |_| {
        if notes.get().is_some_and(|n| n.is_ok())
            && auth
                .user
                .get_untracked()
                .and_then(Result::ok)
                .flatten()
                .is_some_and(|u| u.unread_notes)
        {
            auth.user.refetch();
        }
    });
    view! {
        <Title text="What's new · QuantShift" />
        <section class="page whats-new">
            <header class="page-header"><h1>"What's new"</h1></header>
            <Transition fallback=|| view! { <p class="loading">"Loading the notes…"</p> }>
                {move || Suspend::new(async move {
                    match notes.await {
                        Ok(notes) if notes.is_empty() => view! {
                            <p class="muted">"Nothing yet: notes about new features will appear here."</p>
                        }.into_any(),
                        Ok(notes) => notes.into_iter().map(|note| view! {
                            <article class="panel release-note" data-testid="release-note">
                                <h2>{note.title}</h2>
                                <p class="muted"><time>{day(note.publish_at)}</time></p>
                                <div class="note-body" inner_html=note.html></div>
                            </article>
                        }).collect_view().into_any(),
                        Err(err) => view! {
                            <p class="form-error" role="alert">{err.message}" "<a href="/login">"Sign in"</a></p>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// `/admin/notes`: the notes, drafts first among equals, and one form that writes a new
/// note or changes the one being edited.
#[component]
pub fn AdminNotes() -> impl IntoView {
    let save =
        Action::new(|(id, draft): &(String, NoteDraft)| save_admin_note(id.clone(), draft.clone()));
    let delete = Action::new(|id: &String| delete_admin_note(id.clone()));
    let notes = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| load_admin_notes(),
    );
    let editing = RwSignal::new(String::new());
    let title = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let publish_at = RwSignal::new(String::new());
    let published = RwSignal::new(false);
    let error = move |field: &'static str| {
        move || {
            save.value()
                .get()
                .and_then(Result::err)
                .and_then(|e: AppError| e.field(field).map(str::to_owned))
        }
    };
    // A saved note empties the form for the next one.
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            editing.set(String::new());
            title.set(String::new());
            body.set(String::new());
            publish_at.set(String::new());
            published.set(false);
        }
    });
    let edit = move |note: AdminNote| {
        editing.set(note.id);
        title.set(note.title);
        body.set(note.body);
        publish_at.set(day(note.publish_at));
        published.set(note.published);
    };
    view! {
        <section class="panel">
            <h2>{move || if editing.get().is_empty() { "New release note" } else { "Edit release note" }}</h2>
            <form class="form" novalidate=true on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                save.dispatch((editing.get_untracked(), NoteDraft {
                    title: title.get_untracked(),
                    body: body.get_untracked(),
                    publish_at: publish_at.get_untracked(),
                    published: published.get_untracked(),
                }));
            }>
                <div class="field">
                    <label for="note-title">"Title"</label>
                    <input id="note-title" type="text" prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev)) />
                    <p class="field-error">{error("title")}</p>
                </div>
                <div class="field">
                    <label for="note-body">"Text (Markdown)"</label>
                    <textarea id="note-body" rows="8" prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))></textarea>
                    <p class="field-hint">"Headings, lists, emphasis and links; HTML is shown as text."</p>
                    <p class="field-error">{error("body")}</p>
                </div>
                <div class="field">
                    <label for="note-date">"Publish on (UTC day; empty: now)"</label>
                    <input id="note-date" type="date" prop:value=move || publish_at.get() on:input=move |ev| publish_at.set(event_target_value(&ev)) />
                    <p class="field-error">{error("publish_at")}</p>
                </div>
                <label class="check">
                    <input type="checkbox" prop:checked=move || published.get() on:change=move |ev| published.set(event_target_checked(&ev)) />
                    " Published (users see it once its day has come)"
                </label>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" disabled=move || save.pending().get()>"Save note"</button>
                </div>
            </form>
        </section>
        <section class="panel">
            <h2>"Notes"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading the notes…"</p> }>
                {move || Suspend::new(async move {
                    match notes.await {
                        Ok(list) => view! {
                            <ul class="session-list" data-testid="admin-notes">
                                {list.into_iter().map(|note| {
                                    let id = note.id.clone();
                                    let shown = note.clone();
                                    view! {
                                        <li>
                                            <strong>{note.title}</strong>
                                            {format!(" · {} · {}", day(note.publish_at), if note.published { "published" } else { "draft" })}
                                            " "
                                            <button type="button" class="btn btn-quiet" on:click=move |_| edit(shown.clone())>"Edit"</button>
                                            <button type="button" class="btn btn-quiet" on:click=move |_| { delete.dispatch(id.clone()); }>"Delete"</button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(err) => view! { <p class="form-error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
