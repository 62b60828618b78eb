<?php
/**
 * Plugin Name:       wpprivsync
 * Description:       Makes the privacy policy true in WordPress, WooCommerce and ActiveCampaign: records privacy events for the wpprivsync daemon and runs WordPress's privacy tools on its behalf.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Requires PHP:      8.0
 * Author:            wpprivsync
 * License:           GPL-2.0-or-later
 * Text Domain:       wpprivsync
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

define( 'WPPRIVSYNC_VERSION', '0.1.0' );
