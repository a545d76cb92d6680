//! The `#[braid::main]` attribute. Use it through the `braid` crate, which re-exports it;
//! its documentation lives there.
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod settings;

use proc_macro::{Delimiter, Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};

use settings::Settings;

/// Runs an `async fn` on a new braid event loop; see `braid::main`.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut tokens: Vec<TokenTree> = item.clone().into_iter().collect();

    // The signature runs up to `fn`; `async` must come before it.
    let Some(fn_at) = tokens.iter().position(|t| is_ident(t, "fn")) else {
        return error(Span::call_site(), "#[braid::main] goes on an `async fn`");
    };
    let Some(async_at) = tokens[..fn_at].iter().position(|t| is_ident(t, "async")) else {
        // The function stays as it is, so that this is the only error.
        let mut out = error(
            tokens[fn_at].span(),
            "#[braid::main] needs an `async fn`: add `async` before `fn`",
        );
        out.extend(item);
        return out;
    };
    // The body is the last token: a `{ ... }` group.
    let body = match tokens.last() {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => g.clone(),
        _ => {
            return error(
                Span::call_site(),
                "#[braid::main] needs a function with a body",
            )
        }
    };
    let settings = match Settings::parse(args) {
        Ok(settings) => settings,
        Err((span, message)) => {
            // The function is kept, made plain, with a body that type-checks whatever it
            // returns, so that the mistake is the only error (no "`main` not found").
            let mut out = error(span, &message);
            tokens.remove(async_at);
            let last = tokens.len() - 1;
            tokens[last] = TokenTree::Group(Group::new(
                Delimiter::Brace,
                "::core::unreachable!()".parse().expect("valid Rust"),
            ));
            out.extend(tokens);
            return out;
        }
    };
    tokens.remove(async_at);
    let last = tokens.len() - 1;

    // {
    //     ::braid::__private::main_prelude();
    //     ::braid::__private::run_with(BUILDER, async move BODY)
    // }
    let mut new_body = Vec::new();
    new_body.extend(path(&["braid", "__private", "main_prelude"], body.span()));
    new_body.push(TokenTree::Group(Group::new(
        Delimiter::Parenthesis,
        TokenStream::new(),
    )));
    new_body.push(TokenTree::Punct(Punct::new(';', Spacing::Alone)));
    new_body.extend(path(&["braid", "__private", "run_with"], body.span()));
    let mut arguments: Vec<TokenTree> = settings.builder().into_iter().collect();
    arguments.push(TokenTree::Punct(Punct::new(',', Spacing::Alone)));
    arguments.push(TokenTree::Ident(Ident::new("async", body.span())));
    arguments.push(TokenTree::Ident(Ident::new("move", body.span())));
    arguments.push(TokenTree::Group(body.clone()));
    new_body.push(TokenTree::Group(Group::new(
        Delimiter::Parenthesis,
        arguments.into_iter().collect(),
    )));
    let mut group = Group::new(Delimiter::Brace, new_body.into_iter().collect());
    group.set_span(body.span());
    tokens[last] = TokenTree::Group(group);
    tokens.into_iter().collect()
}

fn is_ident(token: &TokenTree, name: &str) -> bool {
    matches!(token, TokenTree::Ident(i) if i.to_string() == name)
}

/// `::a::b::c` as tokens.
fn path(segments: &[&str], span: Span) -> Vec<TokenTree> {
    let mut out = Vec::new();
    for segment in segments {
        out.push(TokenTree::Punct(Punct::new(':', Spacing::Joint)));
        out.push(TokenTree::Punct(Punct::new(':', Spacing::Alone)));
        out.push(TokenTree::Ident(Ident::new(segment, span)));
    }
    out
}

/// `compile_error!("message")` at `span`.
fn error(span: Span, message: &str) -> TokenStream {
    let mut literal = proc_macro::Literal::string(message);
    literal.set_span(span);
    let mut bang = Punct::new('!', Spacing::Alone);
    bang.set_span(span);
    let mut message = Group::new(Delimiter::Parenthesis, TokenTree::Literal(literal).into());
    message.set_span(span);
    let mut semicolon = Punct::new(';', Spacing::Alone);
    semicolon.set_span(span);
    [
        TokenTree::Ident(Ident::new("compile_error", span)),
        TokenTree::Punct(bang),
        TokenTree::Group(message),
        TokenTree::Punct(semicolon),
    ]
    .into_iter()
    .collect()
}
