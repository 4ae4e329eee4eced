"""The portal's pages, one module per area. Each view is guarded by `portal.menu.page_view`
with the name of its page in `portal.menu.PAGES`: the rule that puts a page in a menu is the
rule that lets its view answer."""
