-- POST /v1/orders: a new order with 3 lines and a new customer on every request.
-- Arguments: <app_id> <app_token> <run_prefix> [status|none]
-- The body has the shape of bench/seed.py's order_body(): keep the two in step.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(dir .. "common.lua")

setup = bench.setup
done = bench.done

local PRODUCTS = {
  { "prod-tshirt", "Organic cotton T-shirt", 2500, '{"color": "navy", "size": "M"}' },
  { "prod-hoodie", "Zip hoodie", 6900, '{"color": "grey", "size": "L"}' },
  { "prod-mug", "Enamel mug 350 ml", 1450, '{"color": "white"}' },
  { "prod-cap", "Baseball cap", 1990, '{"color": "black"}' },
  { "prod-socks", "Wool socks, 3 pairs", 1800, '{"size": "42-46"}' },
  { "prod-bag", "Canvas tote bag", 1200, '{"color": "natural"}' },
  { "prod-bottle", "Steel bottle 750 ml", 2900, '{"color": "green"}' },
  { "prod-notebook", "Dotted notebook A5", 1100, '{"pages": 192}' },
}

local headers
local prefix
local status_field
local counter = 0

function init(args)
  headers = bench.headers(args, { ["Content-Type"] = "application/json" })
  -- A random prefix per wrk run keeps source_ids unique across runs on one database.
  prefix = args[3] .. "-" .. tostring(tid)
  local status = args[4] or "PAID"
  status_field = (status == "none") and "" or ('"status": "' .. status .. '", ')
end

local function item(variant, line)
  local p = PRODUCTS[((variant + line * 3) % #PRODUCTS) + 1]
  return string.format(
    '{"source_id": "%s", "related_object": "product", "quantity": %d, "price": %d, '
      .. '"product": {"name": "%s", "metadata": %s}, '
      .. '"metadata": {"gift_wrap": %s, "warehouse": "WAW-1"}}',
    p[1], 1 + (variant + line) % 3, p[3], p[2], p[4], (line == 0) and "true" or "false")
end

function request()
  counter = counter + 1
  local key = prefix .. "-" .. counter
  local variant = counter % 16
  local body = '{"source_id": "ord-' .. key .. '", ' .. status_field
    .. '"customer": {"source_id": "cust-' .. key .. '", "name": "Customer ' .. key
    .. '", "email": "customer-' .. key .. '@example.com", '
    .. '"metadata": {"segment": "retail", "newsletter": true}}, '
    .. '"items": [' .. item(variant, 0) .. ', ' .. item(variant, 1) .. ', '
    .. item(variant, 2) .. '], '
    .. '"metadata": {"channel": "web", "store": "eu-central", "payment_method": "card", '
    .. '"shipping": {"method": "courier", "country": "PL", "cost": 1500}}}'
  return wrk.format("POST", "/v1/orders", headers, body)
end
