-- Shop back office: products, customers, sellers, orders.
-- Money is INTEGER minor units + ISO 4217 currency; never REAL.

-- `seq` is the FTS rowid and the list order: an INTEGER PRIMARY KEY survives VACUUM,
-- an implicit rowid does not.
CREATE TABLE products (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    sku          TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    price_minor  INTEGER NOT NULL CHECK (price_minor >= 0),
    currency     TEXT NOT NULL,
    stock        INTEGER CHECK (stock IS NULL OR stock >= 0),  -- NULL = unlimited
    category     TEXT NOT NULL DEFAULT '',
    tags         TEXT NOT NULL DEFAULT '[]',
    images       TEXT NOT NULL DEFAULT '[]',
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (tenant_id, sku)
);
CREATE INDEX products_tenant_seq ON products(tenant_id, seq);
CREATE INDEX products_tenant_category ON products(tenant_id, category, seq);

-- Accent- and case-insensitive search; kept in step by triggers.
CREATE VIRTUAL TABLE products_fts USING fts5(
    sku, name, description, category, tags,
    content = 'products', content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
CREATE TRIGGER products_ai AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (rowid, sku, name, description, category, tags)
    VALUES (new.seq, new.sku, new.name, new.description, new.category, new.tags);
END;
CREATE TRIGGER products_ad AFTER DELETE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, sku, name, description, category, tags)
    VALUES ('delete', old.seq, old.sku, old.name, old.description, old.category, old.tags);
END;
CREATE TRIGGER products_au AFTER UPDATE OF sku, name, description, category, tags ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, sku, name, description, category, tags)
    VALUES ('delete', old.seq, old.sku, old.name, old.description, old.category, old.tags);
    INSERT INTO products_fts (rowid, sku, name, description, category, tags)
    VALUES (new.seq, new.sku, new.name, new.description, new.category, new.tags);
END;

CREATE TABLE customers (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    phone        TEXT NOT NULL,            -- E.164
    name         TEXT NOT NULL DEFAULT '',
    email        TEXT,
    tags         TEXT NOT NULL DEFAULT '[]',
    notes        TEXT NOT NULL DEFAULT '',
    opted_out    INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (tenant_id, phone)
);
CREATE INDEX customers_tenant_seq ON customers(tenant_id, seq);

CREATE VIRTUAL TABLE customers_fts USING fts5(
    phone, name, email, tags, notes,
    content = 'customers', content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
CREATE TRIGGER customers_ai AFTER INSERT ON customers BEGIN
    INSERT INTO customers_fts (rowid, phone, name, email, tags, notes)
    VALUES (new.seq, new.phone, new.name, new.email, new.tags, new.notes);
END;
CREATE TRIGGER customers_ad AFTER DELETE ON customers BEGIN
    INSERT INTO customers_fts (customers_fts, rowid, phone, name, email, tags, notes)
    VALUES ('delete', old.seq, old.phone, old.name, old.email, old.tags, old.notes);
END;
CREATE TRIGGER customers_au AFTER UPDATE OF phone, name, email, tags, notes ON customers BEGIN
    INSERT INTO customers_fts (customers_fts, rowid, phone, name, email, tags, notes)
    VALUES ('delete', old.seq, old.phone, old.name, old.email, old.tags, old.notes);
    INSERT INTO customers_fts (rowid, phone, name, email, tags, notes)
    VALUES (new.seq, new.phone, new.name, new.email, new.tags, new.notes);
END;

CREATE TABLE sellers (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    phone           TEXT,
    email           TEXT,
    commission_bps  INTEGER NOT NULL DEFAULT 0 CHECK (commission_bps BETWEEN 0 AND 10000),
    active          INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX sellers_tenant_id ON sellers(tenant_id, id);

-- Per-tenant order numbering and the round-robin pointer.
CREATE TABLE shop_counters (
    tenant_id          TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    last_order_number  INTEGER NOT NULL DEFAULT 1000,
    last_seller_id     TEXT
);

CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number          INTEGER NOT NULL,
    customer_id     TEXT NOT NULL REFERENCES customers(id),
    seller_id       TEXT REFERENCES sellers(id),
    status          TEXT NOT NULL CHECK (status IN ('pending','confirmed','paid','shipped','delivered','cancelled')),
    currency        TEXT NOT NULL,
    subtotal_minor  INTEGER NOT NULL CHECK (subtotal_minor >= 0),
    discount_minor  INTEGER NOT NULL DEFAULT 0 CHECK (discount_minor >= 0),
    shipping_minor  INTEGER NOT NULL DEFAULT 0 CHECK (shipping_minor >= 0),
    total_minor     INTEGER NOT NULL CHECK (total_minor >= 0),
    source          TEXT NOT NULL CHECK (source IN ('bot','api','dashboard')),
    notes           TEXT NOT NULL DEFAULT '',
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (tenant_id, number)
);
CREATE INDEX orders_tenant_id ON orders(tenant_id, id);
CREATE INDEX orders_tenant_status ON orders(tenant_id, status, id);
CREATE INDEX orders_tenant_customer ON orders(tenant_id, customer_id, id);
CREATE INDEX orders_tenant_seller ON orders(tenant_id, seller_id, created_at);

-- Items snapshot what was sold; the product may change or go away later.
CREATE TABLE order_items (
    id                INTEGER PRIMARY KEY,
    order_id          TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    product_id        TEXT REFERENCES products(id) ON DELETE SET NULL,
    sku               TEXT NOT NULL,
    name              TEXT NOT NULL,
    unit_price_minor  INTEGER NOT NULL CHECK (unit_price_minor >= 0),
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    line_total_minor  INTEGER NOT NULL CHECK (line_total_minor >= 0)
);
CREATE INDEX order_items_order ON order_items(order_id);
CREATE INDEX order_items_product ON order_items(product_id);

CREATE TABLE order_status_history (
    id           INTEGER PRIMARY KEY,
    order_id     TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    actor        TEXT NOT NULL,
    note         TEXT NOT NULL DEFAULT '',
    at           TEXT NOT NULL
);
CREATE INDEX order_status_history_order ON order_status_history(order_id, id);
