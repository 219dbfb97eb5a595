//! keyfob's `#[tool]` attribute macro: turns an async fn into a keyfob tool with a name, a
//! description (its doc comment), a JSON schema of its arguments, and the auth it declares.
//!
//! ```text
//! /// Lists the open issues of a repository.
//! #[keyfob::tool(auth_provider = "github", scopes = ["repo"])]
//! async fn list_issues(args: ListIssues, creds: keyfob::Credentials) -> Result<Vec<String>, String> { … }
//! // generates `fn list_issues_tool() -> keyfob::tools::FnTool`
//! ```
//!
//! The provider is checked at compile time: the expansion names
//! `keyfob::providers::<id>::PROVIDER`, which exists only when that provider's feature is on.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Expr, ExprArray, FnArg, ItemFn, Lit, LitStr, Pat, Type, parse_macro_input};

#[derive(Default)]
struct Args {
    provider: Option<LitStr>,
    handler: Option<LitStr>,
    scopes: Vec<LitStr>,
    name: Option<LitStr>,
}

fn parse_scopes(array: ExprArray) -> syn::Result<Vec<LitStr>> {
    array
        .elems
        .into_iter()
        .map(|e| match e {
            Expr::Lit(l) => match l.lit {
                Lit::Str(s) => Ok(s),
                other => Err(syn::Error::new(
                    other.span(),
                    "scopes must be string literals",
                )),
            },
            other => Err(syn::Error::new(
                other.span(),
                "scopes must be string literals",
            )),
        })
        .collect()
}

/// Declares an async fn as a keyfob tool.
///
/// Arguments: `auth_provider = "<id>"` (optional: tools without it need no auth),
/// `auth_handler = "<handler>"`, `scopes = ["…"]`, `name = "…"` (default: the fn name).
/// The fn takes its arguments struct (`Deserialize + JsonSchema`), or nothing, and, when it
/// declares a provider, the `keyfob::Credentials` as its last parameter. It returns
/// `Result<T: Serialize, E: Display>`. The macro keeps the fn and adds `<fn>_tool()`.
#[proc_macro_attribute]
pub fn tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = Args::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("auth_provider") || meta.path.is_ident("provider") {
            args.provider = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("auth_handler") || meta.path.is_ident("handler") {
            args.handler = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("scopes") {
            args.scopes = parse_scopes(meta.value()?.parse()?)?;
        } else if meta.path.is_ident("name") {
            args.name = Some(meta.value()?.parse()?);
        } else {
            return Err(meta.error("expected `auth_provider`, `auth_handler`, `scopes` or `name`"));
        }
        Ok(())
    });
    parse_macro_input!(attr with parser);
    let func = parse_macro_input!(item as ItemFn);
    expand(args, func)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand(args: Args, func: ItemFn) -> syn::Result<proc_macro2::TokenStream> {
    if func.sig.asyncness.is_none() {
        return Err(syn::Error::new(
            func.sig.fn_token.span(),
            "a keyfob tool must be an `async fn`",
        ));
    }
    let fn_name = &func.sig.ident;
    let vis = &func.vis;
    let tool_fn = format_ident!("{}_tool", fn_name);
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| LitStr::new(&fn_name.to_string(), fn_name.span()));
    let description = func
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(l) => match &l.lit {
                    Lit::Str(s) => Some(s.value().trim().to_owned()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned();
    let typed: Vec<&Type> = func
        .sig
        .inputs
        .iter()
        .map(|a| match a {
            FnArg::Typed(t) if matches!(*t.pat, Pat::Ident(_) | Pat::Wild(_)) => Ok(&*t.ty),
            other => Err(syn::Error::new(
                other.span(),
                "tool parameters must be plain `name: Type`",
            )),
        })
        .collect::<syn::Result<_>>()?;
    let wants_creds = args.provider.is_some();
    let (args_ty, takes_args) = match (typed.len(), wants_creds) {
        (0, false) | (1, true) => (quote!(::keyfob::tools::NoArgs), false),
        (1, false) | (2, true) => (quote!(#(#typed)*), true),
        _ => {
            let why = if wants_creds {
                "a tool with auth takes (args, keyfob::Credentials) or (keyfob::Credentials)"
            } else {
                "a tool without auth takes its arguments struct, or nothing"
            };
            return Err(syn::Error::new(func.sig.inputs.span(), why));
        }
    };
    let args_ty = if takes_args {
        let t = typed[0];
        quote!(#t)
    } else {
        args_ty
    };
    let call_args = match (takes_args, wants_creds) {
        (true, true) => quote!(args, creds),
        (true, false) => quote!(args),
        (false, true) => quote!(creds),
        (false, false) => quote!(),
    };
    let (auth, creds_bind) = match &args.provider {
        Some(p) => {
            let id = p.value();
            if id.is_empty() || !id.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                return Err(syn::Error::new(
                    p.span(),
                    "auth_provider must be a provider id such as \"github\"",
                ));
            }
            let ident = syn::Ident::new(&id, p.span());
            let scopes = &args.scopes;
            let scopes = if scopes.is_empty() {
                quote!()
            } else {
                quote!(.scopes([#(#scopes),*]))
            };
            let handler = match &args.handler {
                Some(h) => quote!(.handler(#h)),
                None => quote!(),
            };
            (
                quote!(::core::option::Option::Some(
                    ::keyfob::tools::ToolAuth::new(&::keyfob::providers::#ident::PROVIDER)
                        #handler
                        #scopes
                )),
                quote!(let creds = creds.ok_or_else(::keyfob::tools::ToolError::missing_credentials)?;),
            )
        }
        None => {
            if args.handler.is_some() || !args.scopes.is_empty() {
                return Err(syn::Error::new(
                    Span::call_site(),
                    "`auth_handler` and `scopes` need `auth_provider`",
                ));
            }
            (quote!(::core::option::Option::None), quote!(let _ = creds;))
        }
    };
    let parse = if takes_args {
        quote!(let args: #args_ty = ::keyfob::tools::parse_args(args)?;)
    } else {
        quote!(let _ = args;)
    };
    let doc = format!("The keyfob tool made from [`{fn_name}`] by `#[keyfob::tool]`.");
    Ok(quote! {
        #func

        #[doc = #doc]
        #vis fn #tool_fn() -> ::keyfob::tools::FnTool {
            ::keyfob::tools::FnTool::new(
                #name,
                #description,
                ::keyfob::tools::schema_for::<#args_ty>(),
                #auth,
                |args: ::keyfob::tools::Value, creds: ::core::option::Option<::keyfob::Credentials>| {
                    ::std::boxed::Box::pin(async move {
                        #parse
                        #creds_bind
                        ::keyfob::tools::IntoToolOutput::into_output(#fn_name(#call_args).await)
                    })
                },
            )
        }
    })
}
