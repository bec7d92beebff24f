"""The Douyin shop (抖店) channel plugin: client, mapping, pushes, connector and sandbox."""
