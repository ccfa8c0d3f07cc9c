//! `serve --demo`: a sample catalogue (Spanish names with accents, prices in PEN) and
//! two sellers.

use rusqlite::Connection;

use super::products::{self, ProductDraft};
use super::sellers::{self, SellerDraft};
use super::{tenant_defaults, ShopError};
use crate::ids::TenantId;

const ACTOR: &str = "system:demo";

/// (sku, name, category, price in céntimos, stock (None = unlimited), description)
type Item = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    Option<i64>,
    &'static str,
);

const CATALOGUE: &[Item] = &[
    (
        "ROP-001",
        "Camisa Básica Blanca",
        "Ropa",
        4590,
        Some(25),
        "Algodón pima peruano, corte clásico.",
    ),
    (
        "ROP-002",
        "Camisa Básica Azul",
        "Ropa",
        4590,
        Some(18),
        "Algodón pima peruano, corte clásico.",
    ),
    (
        "ROP-003",
        "Polo Estampado Cóndor",
        "Ropa",
        3990,
        Some(40),
        "Estampado andino, tallas S a XL.",
    ),
    (
        "ROP-004",
        "Casaca de Alpaca",
        "Ropa",
        28900,
        Some(6),
        "Tejida a mano en Puno.",
    ),
    (
        "ROP-005",
        "Chompa Térmica",
        "Ropa",
        11900,
        Some(12),
        "Ideal para el invierno limeño.",
    ),
    (
        "CAL-001",
        "Zapatillas Urbanas",
        "Calzado",
        18990,
        Some(10),
        "Suela de caucho, muy cómodas.",
    ),
    (
        "CAL-002",
        "Sandalias de Cuero",
        "Calzado",
        8990,
        Some(15),
        "Cuero curtido en Arequipa.",
    ),
    (
        "CAL-003",
        "Botines Clásicos",
        "Calzado",
        21900,
        Some(5),
        "Para ocasiones especiales.",
    ),
    (
        "CAL-004",
        "Zapatos Escolares",
        "Calzado",
        12990,
        Some(30),
        "Resistentes y con garantía.",
    ),
    (
        "CAL-005",
        "Pantuflas Peluche",
        "Calzado",
        3490,
        None,
        "Para estar en casa.",
    ),
    (
        "ACC-001",
        "Mochila Andina",
        "Accesorios",
        7990,
        Some(20),
        "Tejido tradicional, bolsillo para laptop.",
    ),
    (
        "ACC-002",
        "Gorro de Lana con Orejeras",
        "Accesorios",
        2990,
        Some(35),
        "Chullo clásico de los Andes.",
    ),
    (
        "ACC-003",
        "Bufanda de Vicuña",
        "Accesorios",
        45000,
        Some(2),
        "Edición limitada.",
    ),
    (
        "ACC-004",
        "Billetera de Cuero",
        "Accesorios",
        5990,
        Some(25),
        "Con protección RFID.",
    ),
    (
        "ACC-005",
        "Lentes de Sol Polarizados",
        "Accesorios",
        9990,
        Some(14),
        "Protección UV 400.",
    ),
    (
        "HOG-001",
        "Taza de Cerámica Chulucanas",
        "Hogar",
        2490,
        Some(50),
        "Cerámica artesanal de Piura.",
    ),
    (
        "HOG-002",
        "Manta Tejida Multicolor",
        "Hogar",
        15900,
        Some(8),
        "Lana de oveja, hecha a mano.",
    ),
    (
        "HOG-003",
        "Cojín Bordado",
        "Hogar",
        4990,
        Some(22),
        "Bordado ayacuchano.",
    ),
    (
        "HOG-004",
        "Café Orgánico de Chanchamayo 500 g",
        "Hogar",
        3290,
        None,
        "Tostado medio, grano entero.",
    ),
    (
        "HOG-005",
        "Vela Aromática de Palo Santo",
        "Hogar",
        1990,
        Some(60),
        "Aroma relajante.",
    ),
];

/// Adds the sample catalogue and two sellers to `tenant`; does nothing if it already
/// has products.
pub fn install(c: &Connection, tenant: TenantId) -> Result<(), ShopError> {
    let has: bool = c
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM products WHERE tenant_id = ?1)")?
        .query_row([tenant], |r| r.get(0))?;
    if has {
        return Ok(());
    }
    let mut defaults = tenant_defaults(c, tenant)?;
    defaults.currency = "PEN".into();
    defaults.country = "PE".into();
    for (sku, name, category, price, stock, description) in CATALOGUE {
        let p = ProductDraft {
            sku: Some((*sku).into()),
            name: Some((*name).into()),
            description: Some((*description).into()),
            price_minor: Some(*price),
            currency: Some("PEN".into()),
            stock: Some(*stock),
            category: Some((*category).into()),
            tags: Some(vec![category.to_lowercase()]),
            ..Default::default()
        }
        .validate(&defaults)
        .map_err(ShopError::Invalid)?;
        products::create(c, tenant, &p, ACTOR)?;
    }
    for (name, phone, bps) in [
        ("Lucía Ramírez", "987 111 222", 500),
        ("José Quispe", "987 333 444", 300),
    ] {
        let s = SellerDraft {
            name: Some(name.into()),
            phone: Some(Some(phone.into())),
            commission_bps: Some(bps),
            ..Default::default()
        }
        .validate(&defaults)
        .map_err(ShopError::Invalid)?;
        sellers::create(c, tenant, &s, ACTOR)?;
    }
    Ok(())
}
