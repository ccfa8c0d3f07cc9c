//! The Spanish demo flow "Asistente de tienda" that `serve --demo` installs: greeting,
//! menu, catalogue -> cart -> checkout -> order, order status by number, hand-off.

use super::model::{BotProgram, Flow, GlobalCommands};

/// The demo flow as stored JSON (also a worked example of the format).
pub const DEMO_FLOW_JSON: &str = r#"{
  "id": "asistente",
  "version": 1,
  "name": "Asistente de tienda",
  "start": "saludo",
  "triggers": [{"type": "keyword", "words": ["hola", "buenas", "inicio"]}],
  "nodes": {
    "saludo": {
      "type": "message",
      "text": "¡Hola{% if contact.name %} {{ contact.name }}{% endif %}! 👋 Bienvenido a nuestra tienda.",
      "next": "menu"
    },
    "menu": {
      "type": "menu",
      "text": "¿En qué te puedo ayudar?",
      "button": "Ver opciones",
      "options": [
        {"id": "catalogo", "title": "Ver catálogo", "synonyms": ["catalogo", "productos", "comprar"], "next": "catalogo"},
        {"id": "estado", "title": "Estado de mi pedido", "synonyms": ["estado", "pedido", "mi pedido"], "next": "pedir_numero"},
        {"id": "persona", "title": "Hablar con una persona", "synonyms": ["persona", "asesor", "humano"], "next": "agente"}
      ],
      "error": "No entendí tu elección. Responde con 1, 2 o 3:",
      "max_retries": 2,
      "on_fail": "agente"
    },
    "catalogo": {
      "type": "catalog",
      "text": "Estas son nuestras categorías 🛍️",
      "on_fail": "menu",
      "next": "nombre"
    },
    "nombre": {
      "type": "question",
      "text": "¡Perfecto! Tu carrito suma {{ cart_total | money }}. ¿A nombre de quién hacemos el pedido?",
      "var": "nombre",
      "validate": {"kind": "text", "min": 2, "max": 80},
      "error": "Por favor escribe tu nombre (al menos 2 letras).",
      "on_fail": "menu",
      "next": "direccion"
    },
    "direccion": {
      "type": "question",
      "text": "Gracias, {{ nombre }}. ¿Cuál es la dirección de entrega?",
      "var": "direccion",
      "validate": {"kind": "text", "min": 5, "max": 200},
      "error": "Escribe la dirección completa (calle, número y distrito).",
      "on_fail": "menu",
      "next": "pedido"
    },
    "pedido": {
      "type": "order",
      "customer_name": "{{ nombre }}",
      "address": "{{ direccion }}",
      "text": "✅ ¡Pedido #{{ order.number }} confirmado! Total: {{ order.total | money(order.currency) }}. Lo enviaremos a {{ direccion }}.",
      "on_empty": "menu",
      "on_error": "pedido_error",
      "next": "gracias"
    },
    "pedido_error": {
      "type": "message",
      "text": "😕 No pudimos crear tu pedido: {{ order_error }}. Revisa tu carrito e inténtalo de nuevo.",
      "next": "menu"
    },
    "gracias": {
      "type": "end",
      "text": "¡Gracias por tu compra, {{ nombre }}! Te avisaremos cuando tu pedido salga. 🚚"
    },
    "pedir_numero": {
      "type": "question",
      "text": "Escribe el número de tu pedido (por ejemplo 1024).",
      "var": "numero_pedido",
      "validate": {"kind": "number", "integer": true, "min": 1},
      "error": "Ese no parece un número de pedido. Escribe solo el número, por ejemplo 1024.",
      "on_fail": "menu",
      "next": "consultar"
    },
    "consultar": {
      "type": "order_status",
      "number": "numero_pedido",
      "next": "estado",
      "on_not_found": "no_encontrado"
    },
    "estado": {
      "type": "message",
      "text": "📦 Tu pedido #{{ order_status.number }} está {{ {'pending': 'pendiente', 'confirmed': 'confirmado', 'preparing': 'en preparación', 'shipped': 'en camino', 'delivered': 'entregado', 'cancelled': 'cancelado'}[order_status.status] | default(order_status.status) }}. Total: {{ order_status.total | money(order_status.currency) }}.",
      "next": "menu"
    },
    "no_encontrado": {
      "type": "message",
      "text": "No encontramos el pedido #{{ numero_pedido }}. Revisa el número o escribe *agente* para hablar con una persona.",
      "next": "menu"
    },
    "agente": {
      "type": "handoff",
      "text": "Te comunico con una persona de nuestro equipo 🙋. Te responderemos en breve.",
      "reason": "El cliente pidió hablar con una persona"
    }
  }
}"#;

/// The demo flow, parsed.
pub fn demo_flow() -> Flow {
    // The constant is part of the binary and covered by a test; a parse failure is a bug.
    serde_json::from_str(DEMO_FLOW_JSON).expect("the demo flow JSON is valid")
}

/// A bot program running the demo flow with default commands and no business hours.
pub fn demo_program() -> BotProgram {
    let flow = demo_flow();
    BotProgram {
        default_flow: flow.id.clone(),
        flows: vec![flow],
        commands: GlobalCommands::default(),
        hours: None,
        idle_timeout_secs: 24 * 3600,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::engine::validate::{validate, validate_program};
    use crate::engine::{
        step, ContactView, Ctx, Effect, Input, MemoryCatalog, ProductView, Session, TenantSettings,
    };
    use crate::messages::Content;

    fn catalog() -> MemoryCatalog {
        let p = |id: &str, name: &str, price: i64, stock: Option<i64>, cat: &str| ProductView {
            id: id.into(),
            sku: format!("SKU-{id}"),
            name: name.into(),
            price_minor: price,
            currency: "PEN".into(),
            stock,
            category: Some(cat.into()),
        };
        MemoryCatalog {
            products: vec![
                p("p1", "Polo algodón", 4590, Some(10), "Ropa"),
                p("p2", "Gorra", 2500, Some(0), "Ropa"),
                p("p3", "Taza", 1800, None, "Hogar"),
            ],
        }
    }

    fn ctx(cat: &MemoryCatalog) -> Ctx<'_> {
        Ctx {
            now: Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap(),
            tenant: TenantSettings::default(),
            contact: ContactView {
                phone: "+51987654321".into(),
                name: Some("Lucía".into()),
            },
            catalog: cat,
        }
    }

    fn text(t: &str) -> Input {
        Input::Text { text: t.into() }
    }

    fn bodies(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(Content::Text { body })
                | Effect::Send(Content::Buttons { body, .. })
                | Effect::Send(Content::List { body, .. }) => Some(body.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_demo_flow_passes_validation() {
        assert_eq!(validate(&demo_flow()), vec![]);
        assert_eq!(validate_program(&demo_program()), vec![]);
    }

    #[test]
    fn a_customer_buys_through_the_demo_flow_end_to_end() {
        let bot = demo_program();
        let cat = catalog();
        let ctx = ctx(&cat);
        let mut session: Option<Session> = None;
        let mut say = |input: Input| {
            let out = step(&bot, session.as_ref(), &input, &ctx);
            session = out.session.clone();
            out.effects
        };

        let e = say(text("Hola"));
        let b = bodies(&e);
        assert!(b[0].contains("¡Hola Lucía!"), "{b:?}");
        assert!(matches!(e.last(), Some(Effect::Send(Content::List { .. }))));

        let e = say(Input::ListPick {
            id: "catalogo".into(),
            title: "Ver catálogo".into(),
        });
        assert!(bodies(&e)[0].contains("categorías"));
        let e = say(text("ropa"));
        assert!(matches!(&e[0], Effect::Send(Content::List { body, .. }) if body.contains("Ropa")));
        let e = say(Input::ListPick {
            id: "prod:p1".into(),
            title: "Polo algodón".into(),
        });
        assert!(bodies(&e)[0].contains("¿Cuántas unidades de Polo algodón"));
        let e = say(text("2"));
        assert!(bodies(&e)[0].contains("S/ 91.80"), "{:?}", bodies(&e));
        let e = say(Input::Button {
            id: "checkout".into(),
            title: "Finalizar compra".into(),
        });
        assert!(bodies(&e)[0].contains("¿A nombre de quién"));
        let e = say(text("Lucía Pérez"));
        assert!(bodies(&e)[0].contains("dirección de entrega"));
        let e = say(text("Av. Arequipa 123, Miraflores"));
        let order = e.iter().find_map(|x| match x {
            Effect::CreateOrder {
                lines,
                customer_name,
                address,
                ..
            } => Some((lines.clone(), customer_name.clone(), address.clone())),
            _ => None,
        });
        let (lines, name, address) = order.expect("a CreateOrder effect");
        assert_eq!(lines.len(), 1);
        assert_eq!((lines[0].product_id.as_str(), lines[0].qty), ("p1", 2));
        assert_eq!(name.as_deref(), Some("Lucía Pérez"));
        assert_eq!(address.as_deref(), Some("Av. Arequipa 123, Miraflores"));

        let e = say(Input::OrderResult {
            ok: true,
            order_id: Some("o-1".into()),
            number: Some(1024),
            total_minor: Some(9180),
            currency: Some("PEN".into()),
            error: None,
        });
        let b = bodies(&e);
        assert!(
            b[0].contains("Pedido #1024 confirmado") && b[0].contains("S/ 91.80"),
            "{b:?}"
        );
        assert!(b[1].contains("Gracias por tu compra, Lucía Pérez"));
        assert!(e.contains(&Effect::FlowCompleted {
            flow_id: "asistente".into()
        }));
        assert!(session.is_none());
    }

    #[test]
    fn a_customer_checks_an_order_status_by_number() {
        let bot = demo_program();
        let cat = catalog();
        let ctx = ctx(&cat);
        let s = step(&bot, None, &text("hola"), &ctx).session;
        let s = step(&bot, s.as_ref(), &text("2"), &ctx).session;
        let out = step(&bot, s.as_ref(), &text("#1024"), &ctx);
        assert!(
            out.effects.is_empty() || !out.effects.contains(&Effect::LookupOrder { number: 1024 })
        );
        let out = step(&bot, out.session.as_ref(), &text("1024"), &ctx);
        assert!(out.effects.contains(&Effect::LookupOrder { number: 1024 }));
        let out = step(
            &bot,
            out.session.as_ref(),
            &Input::OrderStatus {
                found: true,
                number: 1024,
                status: Some("shipped".into()),
                total_minor: Some(9180),
                currency: Some("PEN".into()),
            },
            &ctx,
        );
        let b = bodies(&out.effects);
        assert!(
            b[0].contains("#1024 está en camino") && b[0].contains("S/ 91.80"),
            "{b:?}"
        );
    }

    #[test]
    fn an_unknown_order_number_is_reported_and_the_menu_returns() {
        let bot = demo_program();
        let cat = catalog();
        let ctx = ctx(&cat);
        let s = step(&bot, None, &text("hola"), &ctx).session;
        let s = step(&bot, s.as_ref(), &text("estado"), &ctx).session;
        let s = step(&bot, s.as_ref(), &text("77"), &ctx).session;
        let out = step(
            &bot,
            s.as_ref(),
            &Input::OrderStatus {
                found: false,
                number: 77,
                status: None,
                total_minor: None,
                currency: None,
            },
            &ctx,
        );
        let b = bodies(&out.effects);
        assert!(b[0].contains("No encontramos el pedido #77"), "{b:?}");
        assert!(b[1].contains("¿En qué te puedo ayudar?"));
    }

    #[test]
    fn asking_for_a_person_hands_the_conversation_off() {
        let bot = demo_program();
        let cat = catalog();
        let ctx = ctx(&cat);
        let s = step(&bot, None, &text("hola"), &ctx).session;
        let out = step(&bot, s.as_ref(), &text("Hablar con una persona"), &ctx);
        assert!(out
            .effects
            .iter()
            .any(|e| matches!(e, Effect::Handoff { reason: Some(r) } if r.contains("persona"))));
        let out = step(&bot, out.session.as_ref(), &text("¿hola?"), &ctx);
        assert!(out.effects.is_empty());
    }
}
