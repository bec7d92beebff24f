"""The console's words for the user tags page (``/console/tags``)."""

from __future__ import annotations

EN: dict[str, str] = {
    "code.event.tagged": "Tagged",
    "code.event.untagged": "Tag removed",
    "tags.title": "User tags",
    "tags.intro": "Your own labels for orders, each with a colour. Put them on orders from an order's page.",
    "tags.name": "Name",
    "tags.colour": "Colour",
    "tags.description": "Description",
    "tags.orders": "Orders",
    "tags.save": "Save",
    "tags.delete": "Delete",
    "tags.create": "Create tag",
    "tags.none": "No user tag yet.",
    "tags.created": "Tag {name} created.",
    "tags.updated": "Tag {name} saved.",
    "tags.deleted": "Tag {name} deleted.",
}

ZH: dict[str, str] = {
    "code.event.tagged": "加标签",
    "code.event.untagged": "去标签",
    "tags.title": "自定义标签",
    "tags.intro": "您自己的订单标签，每个标签有一种颜色。在订单页面为订单添加标签。",
    "tags.name": "名称",
    "tags.colour": "颜色",
    "tags.description": "说明",
    "tags.orders": "订单数",
    "tags.save": "保存",
    "tags.delete": "删除",
    "tags.create": "创建标签",
    "tags.none": "还没有自定义标签。",
    "tags.created": "已创建标签 {name}。",
    "tags.updated": "已保存标签 {name}。",
    "tags.deleted": "已删除标签 {name}。",
}
